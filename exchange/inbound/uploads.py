"""Files contractors upload through the portal: entered application data, evidence scans, print logs, payment
data, deletion certificates.

Each upload is sealed as it arrives (``exchange.keys.sealed_files``, AAD ``b"inbound:" + public id``) into the
blob store under ``uploads/<upload public id>``: its plain text never touches a disk. The SHA-256 and size are
computed while sealing; the virus scan and the content checks read the sealed blob back as a plain stream. The
row keeps the key, never a path, so every hub process sharing the database and the store finds the file. The
person's file name is kept only as a checked label. Nothing here opens or runs the content. An upload's register
lines (kept, quarantined, or refused as infected) are built here too, so the portal records them all the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from exchange.blobs.store import BlobMissing, BlobStore, blob_key
from exchange.keys.sealed_files import open_sealed_blob, seal_into
from exchange.keys.sealing import Keyring, MasterKey
from exchange.packing import packer as packing
from ledger.models.inbound import InboundFile
from ledger.registers.handover import Category, RegisterEntry, RegisterKind

KINDS: Final = {
    "entered_data": "入力済み申請データ",
    "evidence_scan": "証拠書類の写し",
    "print_log": "印刷ログ",
    "payment_data": "支払・振込結果データ",
    "deletion_certificate": "消去証明書",
}
MAX_BYTES: Final = 200 * 1024 * 1024
FOLDER: Final = "uploads"


class UploadRefused(Exception):
    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class Stored:
    """A sealed upload: its blob ``key``, the checked ``name``, plain size and SHA-256."""

    upload_id: str
    key: str
    name: str
    size: int
    sha256: str


def aad(upload_id: str) -> bytes:
    """What binds a sealed upload to its row: a file moved under another row's name does not open."""
    return b"inbound:" + upload_id.encode("ascii")


def checked_name(name: str, suffixes: frozenset[str]) -> str:
    """The person's file name reduced to a safe label, refused unless its suffix is one of ``suffixes``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        safe = packing.safe_member_name(base)
    except packing.UnsafeNameError as exc:
        raise UploadRefused(str(exc)) from None
    if Path(safe).suffix.lower() not in suffixes:
        shown = "、".join(sorted(suffixes))
        raise UploadRefused(f"この種類のファイルは受け付けられません（受け付ける形式: {shown}）。")
    return safe


def upload_key(upload_id: str) -> str:
    """The blob key of an upload: named by its id, so a row and its blob find each other on any host."""
    return blob_key(FOLDER, upload_id)


class _Tally:
    """Hashes and counts an upload's plain chunks on their way into the sealer; refuses an oversize or empty file."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    async def count(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise UploadRefused(f"ファイルが大きすぎます（上限 {self.limit // (1024 * 1024)} MB）。")
            self.digest.update(chunk)
            yield chunk
        if self.size == 0:
            raise UploadRefused("ファイルが空です。")


async def seal(
    blobs: BlobStore,
    master: MasterKey,
    upload_id: str,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    suffixes: frozenset[str],
    limit: int = MAX_BYTES,
) -> Stored:
    """Seal the uploaded ``chunks`` into the blob store; refuses a bad name, an empty or oversize file (and then
    nothing is stored)."""
    safe = checked_name(name, suffixes)
    key = upload_key(upload_id)
    tally = _Tally(limit)
    await seal_into(blobs, key, tally.count(chunks), master, aad(upload_id))
    return Stored(upload_id, key, safe, tally.size, tally.digest.hexdigest())


def read_stored(blobs: BlobStore, keyring: Keyring, stored: Stored) -> AsyncIterator[bytes]:
    """The plain content of a just-sealed upload (for the virus scan and the content checks)."""
    return open_sealed_blob(blobs, stored.key, keyring, aad(stored.upload_id))


def read_upload(blobs: BlobStore, keyring: Keyring, upload: InboundFile) -> AsyncIterator[bytes]:
    """The plain content of a kept upload, chunk by chunk, for staff (inbox, fetch) and later checks.

    Raises ``UnsealError`` if the sealed blob was tampered with or belongs to another row (only after the chunks
    before the fault: a caller that hands the content on must read it whole first or accept a cut-off stream), and
    ``BlobMissing`` when the store has no blob under the row's key, or when the row is a plain file from before
    sealing that ``handover db move-sealed-files`` has not moved into the store yet.
    """
    if not upload.sealed:
        raise BlobMissing(f"upload {upload.public_id} is not in the blob store yet (handover db move-sealed-files)")
    return open_sealed_blob(blobs, upload.blob_key, keyring, aad(upload.public_id))


async def remove(blobs: BlobStore, stored: Stored) -> None:
    """Delete a sealed upload that is not kept (infected, or its submission was refused): its only data key goes
    with it."""
    await blobs.delete(stored.key)


def received_entry(
    contract_id: str,
    person_name: str,
    kind: str,
    stored: Stored,
    records: int | None = None,
    findings: tuple[str, ...] = (),
) -> RegisterEntry:
    """The register line (受領) of an upload that passed the scan and the checks and was kept; ``kind`` is a key
    of ``KINDS``. ``findings`` (the program plugin's remarks on the records) are counted, not copied: they may
    name people."""
    quantity = {"files": 1, "bytes": stored.size} | ({"records": records} if records is not None else {})
    details: dict[str, object] = {"upload": stored.upload_id, "sha256": stored.sha256}
    if findings:
        details["findings"] = len(findings)
    return RegisterEntry(
        kind=RegisterKind.INBOUND_RECEIVED,
        category=Category.RECEIVED,
        content=f"{KINDS[kind]}の提出（{stored.name}）" + (f"、確認事項{len(findings)}件" if findings else ""),
        contract_id=contract_id,
        handler_from=person_name,
        handler_to="system",
        quantity=quantity,
        channel="portal",
        details=details,
    )


def quarantined_entry(
    contract_id: str, person_name: str, kind: str, stored: Stored, reason_ja: str, records: int | None
) -> RegisterEntry:
    """The register line of an upload kept sealed in quarantine (隔離) because the checks failed."""
    received = received_entry(contract_id, person_name, kind, stored, records)
    return replace(
        received,
        kind=RegisterKind.INBOUND_QUARANTINED,
        content=f"{KINDS[kind]}の提出を隔離（{stored.name}）: {reason_ja}",
        details={**received.details, "reason": reason_ja},
    )


def refused_entry(contract_id: str, person_name: str, kind: str, stored: Stored, signature: str) -> RegisterEntry:
    """The register line (受付拒否) of an infected upload, deleted unread: a received line's facts plus the virus."""
    received = received_entry(contract_id, person_name, kind, stored)
    return replace(
        received,
        kind=RegisterKind.INBOUND_REFUSED,
        category=Category.REFUSED,
        content=f"{KINDS[kind]}の提出を拒否（{stored.name}、ウイルス検出: {signature}）",
        details={**received.details, "signature": signature},
    )
