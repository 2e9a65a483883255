"""Quarantined drops sealed at rest: a refused file never stays readable, in the watched folder or the hub's.

A drop the intake refuses is sealed (``exchange.keys.sealed_files``) under the data directory as
``<intake public id>.sealed``, bound to ``b"quarantine:" + public id``, so a sealed file renamed to another
intake's name does not open. The plaintext is read once: from the private copy the intake made while taking the
drop in, or, for a drop refused before it was taken in, from one descriptor opened here without following links
and checked on the descriptor (never a path re-opened after a check). The original leaves the watched folder
only after its sealed copy is committed, so a failure on the way leaves the drop where it was, never lost.

Synchronous: the pipeline and the staff actions run these in worker threads.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from exchange.keys.sealed_files import read_sealed_sync, seal_stream_to
from exchange.keys.sealing import Keyring

SUFFIX = ".sealed"


def quarantine_aad(intake_public_id: str) -> bytes:
    return b"quarantine:" + intake_public_id.encode()


@dataclass(frozen=True)
class QuarantineVault:
    """The data directory's quarantine folder and the key that seals into it."""

    directory: Path
    keyring: Keyring

    def path_for(self, intake_public_id: str) -> Path:
        return self.directory / f"{intake_public_id}{SUFFIX}"

    def seal_copy(self, private: Path, intake_public_id: str) -> Path:
        """Seal the hub's own private copy of a drop (the caller deletes the copy, as it always does)."""
        with _open_regular(private) as source:
            return self._seal(source, intake_public_id)

    def seal_drop(self, source: Path, intake_public_id: str, identity: str | None) -> Path | None:
        """Seal a drop straight from the watched folder, then remove it there; None when it is no regular file
        (a link or a folder: the caller sets it aside as it is) or no longer the drop ``identity`` names."""
        try:
            stream = _open_regular(source)
        except (FileNotFoundError, NotARegularFile):
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                return None  # a symbolic link: its target is not the drop
            raise
        with stream:
            info = os.fstat(stream.fileno())
            if identity is not None and identity.split(":")[:2] != [str(info.st_dev), str(info.st_ino)]:
                return None  # another file renamed over the drop: it will be queued as its own drop
            sealed = self._seal(stream, intake_public_id)
        remove_if_same(source, info.st_dev, info.st_ino)
        return sealed

    def _seal(self, source: BinaryIO, intake_public_id: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(intake_public_id)
        seal_stream_to(target, source, self.keyring.current, quarantine_aad(intake_public_id))
        return target


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


def plaintext(path: Path, keyring: Keyring, intake_public_id: str) -> Iterator[bytes]:
    """The original bytes of a sealed quarantined drop, chunk by chunk (``UnsealError`` if tampered with)."""
    return read_sealed_sync(path, keyring, quarantine_aad(intake_public_id))


@dataclass(frozen=True)
class SealedSource:
    """The sealed drop a release re-queues: the new intake's content, in place of a file in the watched folder."""

    path: Path
    intake_public_id: str  # the quarantined intake it was sealed for
    keyring: Keyring

    def take_in(self, private: Path) -> str:
        """Write the plaintext into the hub's new private copy; returns its sha256. The pipeline works from this
        copy as from one taken in from the watched folder (and deletes it the same way). ``UnsealError`` when the
        sealed file was tampered with; the partial copy is removed."""
        digest = hashlib.sha256()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            with os.fdopen(os.open(private, flags, 0o600), "wb") as out:
                for chunk in plaintext(self.path, self.keyring, self.intake_public_id):
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            private.unlink(missing_ok=True)
            raise
        return digest.hexdigest()


def erase(path: Path) -> None:
    """Crypto-erase: the sealed file holds the only wrapped copy of its data key."""
    path.unlink(missing_ok=True)
