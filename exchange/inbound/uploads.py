"""Files contractors upload through the portal: entered application data, evidence scans, print logs, payment
data, deletion certificates.

Each upload is sealed as it arrives (``exchange.keys.sealed_files``, AAD ``b"inbound:" + public id``) into
``DATA_DIR/inbound/<contract public id>/<upload public id>.sealed``: its plain text never touches the disk. The
SHA-256 and size are computed while sealing; the virus scan and the content checks read the sealed file back as
a plain stream. The row keeps the path relative to the data directory, so the directory can move. The person's
file name is kept only as a checked label. Nothing here opens or runs the content. An upload's register lines
(kept, quarantined, or refused as infected) are built here too, so the portal records them all the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Final

from exchange.keys.sealed_files import SealedFileWriter, read_sealed
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
FOLDER: Final = "inbound"
_PLAIN_CHUNK: Final = 256 * 1024


class UploadRefused(Exception):
    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class Stored:
    """A sealed upload: ``key`` relative to the data directory, the checked ``name``, plain size and SHA-256."""

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


def stored_file(data_dir: Path, key: str) -> Path:
    """The file behind a row's relative ``key``; refuses a key that would leave the data directory."""
    relative = PurePosixPath(key)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts or relative.parts[0] != FOLDER:
        raise ValueError(f"not an inbound storage key: {key!r}")
    return data_dir.joinpath(*relative.parts)


def _open(folder: Path, dest: Path, master: MasterKey, upload_id: str) -> SealedFileWriter:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return SealedFileWriter(dest, master, aad(upload_id))


async def seal(
    data_dir: Path,
    master: MasterKey,
    contract_public_id: str,
    upload_id: str,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    suffixes: frozenset[str],
    limit: int = MAX_BYTES,
) -> Stored:
    """Seal the uploaded ``chunks`` under the data directory; refuses a bad name, an empty or oversize file."""
    safe = checked_name(name, suffixes)
    key = f"{FOLDER}/{contract_public_id}/{upload_id}.sealed"
    dest = stored_file(data_dir, key)
    # Chunk by chunk from the event loop, so each file operation (and the encryption) runs in a worker thread.
    writer = await asyncio.to_thread(_open, dest.parent, dest, master, upload_id)
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadRefused(f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。")
            digest.update(chunk)
            await asyncio.to_thread(writer.write, chunk)
        if size == 0:
            raise UploadRefused("ファイルが空です。")
    except BaseException:
        await asyncio.to_thread(writer.discard)
        raise
    await asyncio.to_thread(writer.commit)
    return Stored(upload_id, key, safe, size, digest.hexdigest())


async def read_stored(data_dir: Path, keyring: Keyring, stored: Stored) -> AsyncIterator[bytes]:
    """The plain content of a just-sealed upload (for the virus scan and the content checks)."""
    async for chunk in read_sealed(stored_file(data_dir, stored.key), keyring, aad(stored.upload_id)):
        yield chunk


async def read_upload(data_dir: Path, keyring: Keyring, upload: InboundFile) -> AsyncIterator[bytes]:
    """The plain content of a kept upload, chunk by chunk, for staff (inbox, fetch) and later checks.

    Raises ``UnsealError`` if the sealed file was tampered with or belongs to another row (only after the chunks
    before the fault: a caller that hands the content on must read it whole first or accept a cut-off stream).
    Rows from before sealing point at a plain file by absolute path and are read as they are.
    """
    if upload.sealed:
        async for chunk in read_sealed(stored_file(data_dir, upload.stored_path), keyring, aad(upload.public_id)):
            yield chunk
        return
    handle: BinaryIO = await asyncio.to_thread(Path(upload.stored_path).open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, _PLAIN_CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def remove(data_dir: Path, stored: Stored) -> None:
    """Delete a sealed upload that is not kept (infected, or its submission was refused): its only data key goes
    with it."""
    await asyncio.to_thread(stored_file(data_dir, stored.key).unlink, True)


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
