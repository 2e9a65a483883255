"""Files contractors upload through the portal: print logs, entered application data, deletion certificates.

Each lands in ``DATA_DIR/inbound/<contract public id>/`` under a generated name (the person's file name is kept
only as a checked label), mode 0600, written to a temporary file and renamed only when complete and within the
size limit. Nothing here opens or runs the content. An upload's register line (kept, or refused as infected)
is built here too, so the portal records both the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from exchange.packing import packer as packing
from ledger.files import AtomicFile
from ledger.registers.handover import Category, RegisterEntry, RegisterKind

KINDS: Final = {
    "print_log": "印刷ログ",
    "entered_data": "入力済み申請データ",
    "deletion_certificate": "消去証明書",
}
ALLOWED_SUFFIXES: Final = frozenset({".csv", ".tsv", ".txt", ".pdf", ".zip", ".xlsx", ".json", ".xml"})
MAX_BYTES: Final = 200 * 1024 * 1024


class UploadRefused(Exception):
    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class Stored:
    path: Path
    name: str
    size: int
    sha256: str


def checked_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        safe = packing.safe_member_name(base)
    except packing.UnsafeNameError as exc:
        raise UploadRefused(str(exc)) from None
    if Path(safe).suffix.lower() not in ALLOWED_SUFFIXES:
        shown = "、".join(sorted(ALLOWED_SUFFIXES))
        raise UploadRefused(f"この種類のファイルは受け付けられません（受け付ける形式: {shown}）。")
    return safe


def _open(folder: Path, dest: Path) -> AtomicFile:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return AtomicFile(dest)


async def store(
    data_dir: Path,
    contract_public_id: str,
    upload_id: str,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    limit: int = MAX_BYTES,
) -> Stored:
    safe = checked_name(name)
    folder = data_dir / "inbound" / contract_public_id
    dest = folder / f"{upload_id}{Path(safe).suffix.lower()}"
    # Chunk by chunk from the event loop, so each file operation runs in a worker thread.
    pending = await asyncio.to_thread(_open, folder, dest)
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadRefused(f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。")
            digest.update(chunk)
            await asyncio.to_thread(pending.file.write, chunk)
        if size == 0:
            raise UploadRefused("ファイルが空です。")
    except BaseException:
        await asyncio.to_thread(pending.discard)
        raise
    await asyncio.to_thread(pending.commit)
    return Stored(dest, safe, size, digest.hexdigest())


def received_entry(contract_id: str, person_name: str, kind: str, upload_id: str, stored: Stored) -> RegisterEntry:
    """The register line (受領) of an upload that passed the scan and was kept; ``kind`` is a key of ``KINDS``."""
    return RegisterEntry(
        kind=RegisterKind.INBOUND_RECEIVED,
        category=Category.RECEIVED,
        content=f"{KINDS[kind]}の提出（{stored.name}）",
        contract_id=contract_id,
        handler_from=person_name,
        handler_to="system",
        quantity={"files": 1, "bytes": stored.size},
        channel="portal",
        details={"upload": upload_id, "sha256": stored.sha256},
    )


def refused_entry(
    contract_id: str, person_name: str, kind: str, upload_id: str, stored: Stored, signature: str
) -> RegisterEntry:
    """The register line (受付拒否) of an infected upload, deleted unread: a received line's facts plus the virus."""
    received = received_entry(contract_id, person_name, kind, upload_id, stored)
    return replace(
        received,
        kind=RegisterKind.INBOUND_REFUSED,
        category=Category.REFUSED,
        content=f"{KINDS[kind]}の提出を拒否（{stored.name}、ウイルス検出: {signature}）",
        details={**received.details, "signature": signature},
    )
