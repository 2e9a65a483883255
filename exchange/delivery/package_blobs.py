"""Sealed packages in the blob store: kept once packed, checked before they are served, copied out for connectors.

A package's ZIP lives under its ``blob_key`` (``packages/<public id>.zip``) in the hub's one blob store, which
every host of the hub shares (a bucket, or a folder they all mount); the database holds the key, the size and
the SHA-256, never a path. So a package packed by a worker on one host is served by the portal of another.

Nothing is served unchecked: ``open_checked`` refuses a blob that is missing or whose bytes do not have the
recorded hash. Hashing a large ZIP on every download would make each one read it twice, so a process remembers the
blobs it verified (``Verifications``). On the local store the blob is opened once and the entry is the open file's
identity (device, inode, size, mtime, ctime) with the key and hash: a file replaced, rewritten or touched since it
was verified is verified afresh, and the download sends (``sendfile``) from the very descriptor that was checked,
never from the path again. On another store the entry is key, hash and size, the size asked of the store on every
download, so a blob that is gone, cut short or replaced by one of another length is caught at once; what that cache
cannot see is a change that keeps the length, and a download of such a blob still ends in a ZIP whose own AES
authentication fails on the recipient's side, and the next process verifies it afresh.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from exchange.blobs.local import LocalBlobStore, OpenBlob
from exchange.blobs.store import BlobCorrupt, BlobMissing, BlobStore, blob_key
from ledger.models.packages import Package

VERIFIED_LIMIT: Final = 4096  # blobs remembered as verified, per process (the oldest is forgotten first)


def package_key(public_id: str) -> str:
    """The blob key of the package ``public_id``."""
    return blob_key("packages", f"{public_id}.zip")


class Verifications:
    """The blobs this process has read through SHA-256 and found as recorded (a bounded LRU of their entries)."""

    def __init__(self, limit: int = VERIFIED_LIMIT) -> None:
        self._limit = limit
        self._seen: OrderedDict[Hashable, None] = OrderedDict()

    def known(self, entry: Hashable) -> bool:
        if entry in self._seen:
            self._seen.move_to_end(entry)
            return True
        return False

    def remember(self, entry: Hashable) -> None:
        self._seen[entry] = None
        self._seen.move_to_end(entry)
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class CheckedBlob:
    """A package blob checked for a download. ``file``: the local blob's file, opened once and checked, to be sent
    from (None on a store that is read in chunks). ``close`` lets the file go."""

    store: BlobStore
    key: str
    size: int
    opened: OpenBlob | None

    @property
    def file(self) -> BinaryIO | None:
        return None if self.opened is None else self.opened.file

    async def close(self) -> None:
        if self.opened is not None:
            await asyncio.shield(self.opened.close())


async def keep(store: BlobStore, package: Package, packed: Path) -> None:
    """Store the freshly packed ZIP under the package's key; BlobCorrupt when what was stored is not what was
    packed (the local file changed on the way), and then nothing stays under the key."""
    stored = await store.put_file(package.blob_key, packed)
    if stored.sha256 != package.sha256 or stored.size != package.size:
        await store.delete(package.blob_key)
        raise BlobCorrupt(f"blob {package.blob_key} does not hold what was packed", retryable=True)


async def open_checked(store: BlobStore, package: Package, verified: Verifications) -> CheckedBlob:
    """The package's blob, refused (BlobMissing / BlobCorrupt) when it is not there or not as recorded."""
    if isinstance(store, LocalBlobStore):
        opened = await store.open(package.blob_key)
        try:
            await _check_open(opened, package, verified)
        except BaseException:
            await asyncio.shield(opened.close())
            raise
        return CheckedBlob(store, package.blob_key, opened.size, opened)
    size = await store.size(package.blob_key)
    if size is None:
        raise BlobMissing(f"blob {package.blob_key} is missing")
    _check_size(package, size)
    entry = (package.blob_key, package.sha256, size)
    if not verified.known(entry):
        await store.verify(package.blob_key, package.sha256)
        verified.remember(entry)
    return CheckedBlob(store, package.blob_key, size, None)


async def _check_open(opened: OpenBlob, package: Package, verified: Verifications) -> None:
    _check_size(package, opened.size)
    entry = (package.blob_key, package.sha256, opened.identity)
    if verified.known(entry):
        return
    if await opened.sha256() != package.sha256:
        raise BlobCorrupt(f"blob {package.blob_key} does not have the recorded hash")
    verified.remember(entry)


def _check_size(package: Package, size: int) -> None:
    if size != package.size:
        raise BlobCorrupt(f"blob {package.blob_key} has {size} bytes, not {package.size}")


@asynccontextmanager
async def local_file(store: BlobStore, package: Package, cache_dir: Path) -> AsyncIterator[Path]:
    """The package's ZIP as a local file, for a connector (they take paths), checked against its SHA-256.

    The local backend's own file is used as it is (after reading it through the hash); any other backend's blob
    is copied into ``cache_dir`` under a name of its own and the copy removed when the block ends.
    """
    if isinstance(store, LocalBlobStore):
        await store.verify(package.blob_key, package.sha256)
        yield store.path_of(package.blob_key)
        return
    await asyncio.to_thread(cache_dir.mkdir, parents=True, exist_ok=True, mode=0o700)
    copy = cache_dir / f"{package.public_id}-{uuid.uuid4().hex[:12]}.zip"
    await store.fetch_to(package.blob_key, copy, package.sha256)
    try:
        yield copy
    finally:
        await asyncio.shield(asyncio.to_thread(copy.unlink, True))
