"""An inspection's report file (checklist, photos, the contractor's signed sheet), sealed at rest (C-19).

The file may show personal data (a photographed screen, a list of handlers), so it is sealed under the hub's master
key (``exchange.keys.sealed_files``), bound to the inspection it belongs to, in the blob store under
``attachments/<inspection id>/<first 16 hex digits of its SHA-256>``. The database keeps its name, key and SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from exchange.blobs.store import BlobStore, blob_key
from exchange.intake.antivirus import StreamScanner
from exchange.keys import sealing
from exchange.keys.sealed_files import open_sealed_blob, seal_into
from exchange.packing.packer import UnsafeNameError, safe_member_name

MAX_BYTES: Final = 20 * 1024 * 1024
SUFFIXES: Final = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".xlsx", ".docx", ".csv", ".txt"})


class AttachmentRefused(ValueError):
    """The file cannot be kept; the message is Japanese."""


@dataclass(frozen=True)
class Sealed:
    name: str
    key: str
    sha256: str


def aad(inspection_id: str) -> bytes:
    """What binds a sealed attachment to its inspection: a blob copied under another inspection does not open."""
    return b"attachment:" + inspection_id.encode("ascii")


def attachment_key(inspection_id: str, sha256: str) -> str:
    return blob_key("attachments", f"{inspection_id}/{sha256[:16]}")


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
    blobs: BlobStore,
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
    key = attachment_key(inspection_id, digest)
    await seal_into(blobs, key, _one_chunk(data), keyring.current, aad(inspection_id))
    return Sealed(safe, key, digest)


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


async def open_attachment(keyring: sealing.Keyring, blobs: BlobStore, key: str, inspection_id: str) -> bytes:
    """The attachment's plain bytes (at most ``MAX_BYTES``, so held in memory); ``UnsealError`` if tampered with."""
    return b"".join([chunk async for chunk in open_sealed_blob(blobs, key, keyring, aad(inspection_id))])
