"""Quarantined drops sealed at rest: a refused file never stays readable, in the watched folder or the hub's.

A drop the intake refuses is sealed (``exchange.keys.sealed_files``) into the blob store as
``quarantine/<intake public id>``, bound to ``b"quarantine:" + public id``, so a sealed blob copied under another
intake's key does not open, and every hub process sharing the store can release, discard or take it out. The
plaintext is read once: from the private copy the intake made while taking the drop in, or, for a drop refused
before it was taken in, from one descriptor opened here without following links and checked on the descriptor
(never a path re-opened after a check). The original leaves the watched folder only after its sealed copy is
stored, so a failure on the way leaves the drop where it was, never lost.

Every read and write of a file runs in a worker thread, chunk by chunk; the sealing streams into the store.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from exchange.blobs.store import CHUNK_BYTES, BlobStore, blob_key
from exchange.keys.sealed_files import open_sealed_blob, seal_into
from exchange.keys.sealing import Keyring


def quarantine_aad(intake_public_id: str) -> bytes:
    return b"quarantine:" + intake_public_id.encode()


def quarantine_key(intake_public_id: str) -> str:
    return blob_key("quarantine", intake_public_id)


@dataclass(frozen=True)
class QuarantineVault:
    """The blob store the quarantine seals into, and the key that seals."""

    blobs: BlobStore
    keyring: Keyring

    async def seal_copy(self, private: Path, intake_public_id: str) -> str:
        """Seal the hub's own private copy of a drop (the caller deletes the copy, as it always does); its key."""
        stream = await asyncio.to_thread(_open_regular, private)
        try:
            return await self._seal(stream, intake_public_id)
        finally:
            await asyncio.to_thread(stream.close)

    async def seal_drop(self, source: Path, intake_public_id: str, identity: str | None) -> str | None:
        """Seal a drop straight from the watched folder, then remove it there; its key, or None when it is no
        regular file (a link or a folder: the caller sets it aside as it is) or no longer the drop ``identity``
        names."""
        try:
            stream = await asyncio.to_thread(_open_regular, source)
        except (FileNotFoundError, NotARegularFile):
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                return None  # a symbolic link: its target is not the drop
            raise
        try:
            info = await asyncio.to_thread(os.fstat, stream.fileno())
            if identity is not None and identity.split(":")[:2] != [str(info.st_dev), str(info.st_ino)]:
                return None  # another file renamed over the drop: it will be queued as its own drop
            key = await self._seal(stream, intake_public_id)
        finally:
            await asyncio.to_thread(stream.close)
        await asyncio.to_thread(remove_if_same, source, info.st_dev, info.st_ino)
        return key

    async def _seal(self, source: BinaryIO, intake_public_id: str) -> str:
        key = quarantine_key(intake_public_id)
        await seal_into(self.blobs, key, _chunks(source), self.keyring.current, quarantine_aad(intake_public_id))
        return key

    def plaintext(self, key: str, intake_public_id: str) -> AsyncIterator[bytes]:
        """The original bytes of a sealed quarantined drop, chunk by chunk (``UnsealError`` if tampered with,
        ``BlobMissing`` when it is gone)."""
        return open_sealed_blob(self.blobs, key, self.keyring, quarantine_aad(intake_public_id))

    async def erase(self, key: str) -> None:
        """Crypto-erase: the sealed blob holds the only wrapped copy of its data key."""
        await self.blobs.delete(key)


async def _chunks(source: BinaryIO) -> AsyncIterator[bytes]:
    while block := await asyncio.to_thread(source.read, CHUNK_BYTES):
        yield block


class NotARegularFile(Exception):
    pass


def _open_regular(path: Path) -> BinaryIO:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotARegularFile(str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def remove_if_same(source: Path, device: int, inode: int) -> None:
    """Unlink ``source`` if it is still the file sealed (a new drop under the same name is left alone)."""
    try:
        info = source.lstat()
    except FileNotFoundError:
        return
    if (info.st_dev, info.st_ino) == (device, inode):
        source.unlink(missing_ok=True)


def remove_drop(source: Path, identity: str | None) -> None:
    """Remove the plaintext original of a drop whose private copy was sealed, if it is still that drop."""
    if identity is None:
        return
    device, inode = identity.split(":")[:2]
    remove_if_same(source, int(device), int(inode))


def _create_private(path: Path) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    return os.fdopen(os.open(path, flags, 0o600), "wb")


@dataclass(frozen=True)
class SealedSource:
    """The sealed drop a release re-queues: the new intake's content, in place of a file in the watched folder."""

    vault: QuarantineVault
    key: str
    intake_public_id: str  # the quarantined intake it was sealed for

    async def take_in(self, private: Path) -> str:
        """Write the plaintext into the hub's new private copy; returns its sha256. The pipeline works from this
        copy as from one taken in from the watched folder (and deletes it the same way). ``UnsealError`` when the
        sealed blob was tampered with; the partial copy is removed."""
        digest = hashlib.sha256()
        out = await asyncio.to_thread(_create_private, private)
        try:
            async for chunk in self.vault.plaintext(self.key, self.intake_public_id):
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(out.close)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_drop_partial, out, private))
            raise
        return digest.hexdigest()


def _drop_partial(out: BinaryIO, private: Path) -> None:
    out.close()
    private.unlink(missing_ok=True)
