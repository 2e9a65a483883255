"""The blob store: one interface for every byte the hub keeps (sealed packages, uploads, quarantined files,
certificates and their PDFs, DVD images, kept reports), whatever holds them.

Keys name what a blob is, never where it lies: ``packages/<public id>.zip``, ``uploads/<id>``, … (see
``blob_key``). A key is relative, made of ASCII letters, digits and ``._-`` segments joined by ``/``; the database
stores keys, never absolute paths, so a hub restored elsewhere or a second host finds the same blobs.

Every backend keeps the same promises, checked by one contract test (``tests/exchange/blobs/test_contract.py``):

* ``put`` streams (memory flat in the object's size) and is atomic: a reader sees the whole blob or no blob,
  and a failed or cancelled put leaves nothing visible under the key;
* ``read`` streams, from an optional byte offset (HTTP Range resume);
* ``delete`` is verified: after it returns, ``size`` answers None (on a versioned bucket every version is gone);
* ``verify`` reads the blob through SHA-256 and refuses one that is missing or changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from ledger.files import AtomicFile

CHUNK_BYTES: Final = 1024 * 1024
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class BlobError(Exception):
    """A blob could not be stored or read; ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class BlobMissing(BlobError):
    """No blob under the key."""


class BlobCorrupt(BlobError):
    """The blob's bytes do not have the hash the hub recorded for them."""


@dataclass(frozen=True)
class BlobInfo:
    """What a finished put stored: the key, its size in bytes and the SHA-256 (hex) of its bytes."""

    key: str
    size: int
    sha256: str


def check_key(key: str) -> str:
    """``key`` when it is a valid blob key; raises ValueError otherwise (absolute, ``..``, odd characters)."""
    segments = key.split("/")
    if not key or not all(_SEGMENT.fullmatch(segment) for segment in segments) or ".." in segments:
        raise ValueError(f"not a blob key: {key!r}")
    return key


def blob_key(kind: str, name: str) -> str:
    """The key of a blob of ``kind`` (``packages``, ``uploads``, ``quarantine``, ``certificates``, ``media``,
    ``reports``, ``references``) named ``name`` (an id, with a suffix where one helps an operator)."""
    return check_key(f"{kind}/{name}")


async def copy_to_file(chunks: AsyncIterator[bytes], key: str, path: Path, sha256: str) -> None:
    """Write a blob's chunks to a new local file at ``path``, checking the hash on the way; on a mismatch or any
    failure no file is left (the ``fetch_to`` of every backend)."""
    pending = await asyncio.to_thread(AtomicFile, path, exclusive=True)
    digest = hashlib.sha256()
    try:
        async for chunk in chunks:
            digest.update(chunk)
            await asyncio.to_thread(pending.file.write, chunk)
        if digest.hexdigest() != sha256:
            raise BlobCorrupt(f"blob {key} does not have the recorded hash")
        await asyncio.to_thread(pending.commit)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(pending.discard))
        raise


class BlobStore(Protocol):
    """Where the hub keeps bytes; ``kind`` is ``local`` or ``s3``."""

    kind: str

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        """Store the chunks under ``key`` (replacing what was there) atomically; returns size and SHA-256."""
        ...

    async def put_file(self, key: str, path: Path) -> BlobInfo:
        """Store a local file's bytes under ``key``, streaming (a package just packed)."""
        ...

    def read(self, key: str, *, start: int = 0) -> AsyncIterator[bytes]:
        """The blob's bytes from ``start`` on, in chunks; raises BlobMissing when there is none."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None when there is no blob under ``key``."""
        ...

    async def verify(self, key: str, sha256: str) -> int:
        """Read the whole blob through SHA-256; returns its size, or raises BlobMissing / BlobCorrupt."""
        ...

    async def fetch_to(self, key: str, path: Path, sha256: str) -> None:
        """Copy the blob to a new local file at ``path`` (for a tool that needs a file), checking its hash on
        the way; raises BlobMissing / BlobCorrupt and leaves no file behind then."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob (every version) and check that it is gone; deleting a missing key is not an error."""
        ...

    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key that starts with ``prefix``, in no promised order (backup manifests, cleaning)."""
        ...

    async def clean_incomplete(self, older_than_seconds: float) -> int:
        """Remove what unfinished puts left behind (temporary files, multipart uploads) older than the age
        given; returns how many were removed. Run by a duty, so a process killed mid-put leaves no orphans."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
