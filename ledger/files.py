"""Atomic, durable file writes: a file appears whole under its name or not at all, and survives a power cut.

The one recipe for every file another process or a later run reads (result files, packages, certificates,
keys, reports, uploads, outbox copies, DVD images): write a temporary file in the target's directory, fsync
it, rename it over the target, then fsync the directory so the rename itself is on disk. On any failure the
temporary file is removed. An ``exclusive`` write never replaces an existing file: the finished temporary file
is hard-linked to the name (which fails if the name exists) instead of renamed over it.

Standard library only, so connectors, which must not import the hub, use it too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

TEMP_SUFFIX: Final = ".tmp"
PRIVATE: Final = 0o600
# Room left in a directory entry (255 bytes) for the dot, the random part and the suffix.
_TEMP_STEM_BYTES: Final = 200
# What link(2) answers on file systems without hard links (FAT, some network shares).
_NO_HARD_LINKS: Final = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def fsync_directory(path: Path) -> None:
    """Make the entries of ``path`` (a new, renamed or removed file) survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path) -> str:
    # Named after the target so an operator can tell whose leftover it is, cut short so a long (Japanese) name
    # still fits; the suffix is one the intake watcher ignores, since result files are written into watched folders.
    stem = path.name.encode()[:_TEMP_STEM_BYTES].decode(errors="ignore")
    return f".{stem}.{secrets.token_hex(8)}{TEMP_SUFFIX}"


class AtomicFile:
    """An open temporary file (``file``, read-write) that becomes ``path`` on :meth:`commit`.

    ``mode`` is set exactly (``fchmod``, so no umask narrows it) when the file is committed; the temporary file
    is private until then. ``None`` leaves the mode to the umask, as ``open()`` would. ``temp_name`` fixes the
    temporary file's name in the same directory (an existing leftover is truncated and reused, so a retry after a
    crash does not litter); by default the name is unique. Use :func:`atomic_writer` or :func:`write_atomic`
    unless the writes cannot happen inside one ``with`` block (for example, chunk by chunk from an event loop).
    """

    def __init__(
        self, path: Path, *, mode: int | None = PRIVATE, temp_name: str | None = None, exclusive: bool = False
    ) -> None:
        self.path = path
        self.temp = path.with_name(temp_name or _temp_name(path))
        self._mode = mode
        self._exclusive = exclusive
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if temp_name else os.O_EXCL)
        fd = os.open(self.temp, flags, 0o666 if mode is None else PRIVATE)
        try:
            self.file: BinaryIO = os.fdopen(fd, "w+b")
        except BaseException:
            os.close(fd)
            self.temp.unlink(missing_ok=True)
            raise

    def commit(self) -> None:
        """Flush and fsync the data, put it under ``path``, fsync the directory; on failure, discard."""
        try:
            self.file.flush()
            if self._mode is not None:
                os.fchmod(self.file.fileno(), self._mode)
            os.fsync(self.file.fileno())
            self.file.close()
            if self._exclusive:
                self._link()
            else:
                os.replace(self.temp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_directory(self.path.parent)

    def _link(self) -> None:
        try:
            os.link(self.temp, self.path)
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            # No hard links here: claim the name with an empty file first, then rename over our own claim.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE))
            try:
                os.replace(self.temp, self.path)
            except BaseException:
                self.path.unlink(missing_ok=True)
                raise
        else:
            self.temp.unlink()

    def discard(self) -> None:
        """Close and remove the temporary file; ``path`` is left as it was."""
        with contextlib.suppress(OSError):
            self.file.close()
        self.temp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, mode: int | None = PRIVATE, temp_name: str | None = None, exclusive: bool = False
) -> Iterator[BinaryIO]:
    """Write ``path`` through the yielded file; it is committed when the block ends, discarded if it raises.

    The file is opened for reading too, so the block may seek back and verify what it wrote before the commit.
    The options are those of :class:`AtomicFile`.
    """
    pending = AtomicFile(path, mode=mode, temp_name=temp_name, exclusive=exclusive)
    try:
        yield pending.file
    except BaseException:
        pending.discard()
        raise
    pending.commit()


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = PRIVATE, exclusive: bool = False) -> None:
    """Replace (or, ``exclusive``, create) ``path`` with ``data`` (text as UTF-8) atomically and durably."""
    with atomic_writer(path, mode=mode, exclusive=exclusive) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
