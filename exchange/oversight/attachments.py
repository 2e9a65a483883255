"""An inspection's report file (checklist, photos, the contractor's signed sheet), sealed at rest (C-19).

The file may show personal data (a photographed screen, a list of handlers), so it is kept as the packages'
passwords are: sealed under the hub's master key, bound to the inspection it belongs to, in
``data_dir/inspections/<inspection id>/``. Only its name and SHA-256 are in the database.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from exchange.intake.antivirus import StreamScanner
from exchange.keys import sealing
from exchange.packing.packer import UnsafeNameError, safe_member_name
from ledger.files import write_atomic

MAX_BYTES: Final = 20 * 1024 * 1024
SUFFIXES: Final = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".xlsx", ".docx", ".csv", ".txt"})


class AttachmentRefused(ValueError):
    """The file cannot be kept; the message is Japanese."""


@dataclass(frozen=True)
class Sealed:
    name: str
    path: Path
    sha256: str


def checked_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        safe = safe_member_name(base)
    except UnsafeNameError as exc:
        raise AttachmentRefused(str(exc)) from None
    if Path(safe).suffix.lower() not in SUFFIXES:
        raise AttachmentRefused(
            f"この種類のファイルは添付できません（添付できる形式: {'、'.join(sorted(SUFFIXES))}）。"
        )
    return safe


async def seal_attachment(
    keyring: sealing.Keyring,
    data_dir: Path,
    inspection_id: str,
    name: str,
    data: bytes,
    scanner: StreamScanner | None = None,
) -> Sealed:
    """Check, virus-scan (C-12, when a scanner is configured: fail closed) and seal the file."""
    safe = checked_name(name)
    if not data:
        raise AttachmentRefused("添付ファイルが空です。")
    if len(data) > MAX_BYTES:
        raise AttachmentRefused(f"添付ファイルは{MAX_BYTES // (1024 * 1024)}MBまでです。")
    if scanner is not None:
        await _scan(scanner, data)
    digest = hashlib.sha256(data).hexdigest()
    sealed = sealing.seal(keyring.current, data, inspection_id.encode()).to_bytes()
    path = data_dir / "inspections" / inspection_id / f"{digest[:16]}.sealed"
    await asyncio.to_thread(_write, path, sealed)
    return Sealed(safe, path, digest)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _scan(scanner: StreamScanner, data: bytes) -> None:
    """Streamed to clamd from memory: no plain copy of the attachment is ever written."""
    try:
        found = await scanner.scan_stream(_one_chunk(data))
    except OSError:
        raise AttachmentRefused("ウイルス検査ができないため、現在は添付を受け付けられません。") from None
    if found is not None:
        raise AttachmentRefused(f"ウイルスが検出されたため、添付を受け付けませんでした（{found}）。")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, data)


async def open_attachment(keyring: sealing.Keyring, path: Path, inspection_id: str) -> bytes:
    data = await asyncio.to_thread(path.read_bytes)
    return sealing.unseal(keyring, sealing.SealedSecret.from_bytes(data), inspection_id.encode())
