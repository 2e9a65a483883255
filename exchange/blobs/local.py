"""The local-folder blob store: the embedded default (``DATA_DIR/blobs``), one file per key.

A put writes a temporary file beside its target (``ledger.files.AtomicFile``: a dot-name ending in ``.tmp``,
fsynced, renamed over the key, the folder fsynced), so a reader never sees half a blob and a crash leaves only a
temporary file, which ``clean_incomplete`` removes. Keys never start with a dot, so listings skip those files.
All file work runs in a thread: the event loop never waits on the disk.

A download opens its blob once (``open``): the checks (size, hash) and the ``sendfile`` that serves it use that
one descriptor, so a file put over the key after it was checked is never what is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from exchange.blobs.store import CHUNK_BYTES, BlobCorrupt, BlobInfo, BlobMissing, check_key, copy_to_file
from ledger.files import TEMP_SUFFIX, AtomicFile

Identity = tuple[int, int, int, int, int]  # device, inode, size, mtime and ctime (ns) of an open file


def _identity(status: os.stat_result) -> Identity:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


@dataclass(frozen=True)
class OpenBlob:
    """A blob's file, opened once, and what it was when opened: a write to it, or another file renamed over the
    key, changes ``identity`` (the ctime cannot be set back, unlike the mtime)."""

    key: str
    file: BinaryIO
    identity: Identity

    @property
    def size(self) -> int:
        return self.identity[2]

    async def sha256(self) -> str:
        """The SHA-256 of the open file's bytes; BlobCorrupt when the file changed while it was read."""
        return await asyncio.to_thread(self._sha256)

    def _sha256(self) -> str:
        descriptor = self.file.fileno()
        digest = hashlib.sha256()
        offset = 0
        # pread leaves the file's position alone; hashlib lets go of the GIL for chunks this large.
        while chunk := os.pread(descriptor, CHUNK_BYTES, offset):
            digest.update(chunk)
            offset += len(chunk)
        if offset != self.size or _identity(os.fstat(descriptor)) != self.identity:
            raise BlobCorrupt(f"blob {self.key} changed while it was read")
        return digest.hexdigest()

    async def close(self) -> None:
        await asyncio.to_thread(self.file.close)


class LocalBlobStore:
    """Blobs as files under ``root``; the folder is made when the store is."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path_of(self, key: str) -> Path:
        """The file that holds ``key`` (for ``sendfile`` and tools that need a path); it may not exist."""
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        target = self.path_of(key)
        pending = await asyncio.to_thread(self._open_pending, target)
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(pending.file.write, chunk)
            await asyncio.to_thread(pending.commit)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(pending.discard))
            raise
        return BlobInfo(key, size, digest.hexdigest())

    @staticmethod
    def _open_pending(target: Path) -> AtomicFile:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return AtomicFile(target)

    async def put_file(self, key: str, path: Path) -> BlobInfo:
        return await self.put(key, _file_chunks(path, 0))

    async def read(self, key: str, *, start: int = 0) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._open, key)
        try:
            await asyncio.to_thread(handle.seek, start)
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def open(self, key: str) -> OpenBlob:
        """The blob's file, opened once (see ``OpenBlob``); BlobMissing when there is none. The caller closes it."""
        return await asyncio.to_thread(self._open_blob, key)

    def _open_blob(self, key: str) -> OpenBlob:
        file = self._open(key)
        try:
            return OpenBlob(key, file, _identity(os.fstat(file.fileno())))
        except BaseException:
            file.close()
            raise

    def _open(self, key: str) -> BinaryIO:
        try:
            return self.path_of(key).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"blob {key} is missing") from None

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path_of(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def verify(self, key: str, sha256: str) -> int:
        digest = hashlib.sha256()
        size = 0
        async for chunk in self.read(key):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != sha256:
            raise BlobCorrupt(f"blob {key} does not have the recorded hash")
        return size

    async def fetch_to(self, key: str, path: Path, sha256: str) -> None:
        await copy_to_file(self.read(key), key, path, sha256)

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        if await self.size(key) is not None:
            raise BlobCorrupt(f"blob {key} is still there after it was deleted")

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        for key in await asyncio.to_thread(lambda: list(self._walk())):
            if key.startswith(prefix):
                yield key

    def _walk(self) -> Iterator[str]:
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            relative = Path(folder).relative_to(self.root)
            for name in files:
                if not name.startswith("."):
                    yield (relative / name).as_posix()

    async def clean_incomplete(self, older_than_seconds: float) -> int:
        return await asyncio.to_thread(self._clean, time.time() - older_than_seconds)

    def _clean(self, before: float) -> int:
        removed = 0
        for folder, _subfolders, files in os.walk(self.root):
            for name in files:
                path = Path(folder) / name
                if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        if path.stat().st_mtime < before:
                            path.unlink()
                            removed += 1
        return removed

    async def close(self) -> None:
        return None


async def _file_chunks(path: Path, start: int) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
