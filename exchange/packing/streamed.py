"""Packing a source that is a stream, not a file: what the hub keeps sealed (a contractor's upload) is packed for
the ward without its plain text ever touching the disk.

The same ZIP as ``packer.pack`` (AES-256, WinZip AE-2, the file and a ``manifest.json``, proven by reading it back
before it appears under its name); only the source differs. ``pack_stream`` is synchronous like ``pack`` and runs
in a worker thread; ``AsyncChunks`` lets that thread read an event loop's async iterator (for example
``exchange.inbound.uploads.read_upload``) as a plain binary file.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from exchange.packing.packer import (
    MANIFEST_NAME,
    Manifest,
    PackedFile,
    PackResult,
    UnsafeNameError,
    manifest_json,
    prove_packed,
    safe_member_name,
)
from exchange.packing.proof import PackageProofError
from exchange.packing.zipaes import AesZipWriter
from ledger.files import atomic_writer


class AsyncChunks(io.RawIOBase):
    """A read-only raw file over an async iterator of bytes owned by ``loop``; read only from another thread."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._chunks = chunks
        self._loop = loop
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._ended:
            # The iterator runs on its own loop; this thread waits for each chunk (errors surface here).
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if chunk is None:
                self._ended = True
            else:
                self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def reader(chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> BinaryIO:
    """``chunks`` as a buffered binary file for a worker thread."""
    return io.BufferedReader(AsyncChunks(chunks, loop), buffer_size=1024 * 1024)


def pack_stream(
    name: str,
    source: BinaryIO,
    size: int,
    manifest: Manifest,
    password: str,
    dest: Path,
    *,
    level: int = 6,
    mode: int | None = None,
) -> PackResult:
    """Pack ``size`` bytes read from ``source`` as the member ``name`` (plus the manifest) into an AES-256 ZIP at
    ``dest``, replaced atomically; ``mode`` None leaves the file's mode to the folder's umask (a shared folder).

    Raises ``PackageProofError`` when the stream did not hold ``size`` bytes or the ZIP does not read back as
    recorded; ``dest`` is then left as it was.
    """
    member = safe_member_name(name)
    if member.casefold() == MANIFEST_NAME:
        raise UnsafeNameError(name, f"「{MANIFEST_NAME}」はシステムが使う名前です")
    with atomic_writer(dest, mode=mode) as out, AesZipWriter(out, password) as writer:
        info = writer.write_stream(member, source, size_hint=size, level=level, modified=manifest.created_at)
        if info.size != size:
            raise PackageProofError(f"{member}: {size}バイトのはずが{info.size}バイトでした")
        # No record count: proving one would spool an XLSX's plain text beside the ZIP, which is what packing from
        # a stream avoids; the register line carries the count the upload's checks found.
        packed = (PackedFile(member, info.size, info.sha256, None),)
        document = manifest_json(manifest, packed)
        writer.write_bytes(MANIFEST_NAME, document, level=level, modified=manifest.created_at)
        writer.close()
        result = PackResult(dest, writer.size, writer.sha256, packed, document)
        out.flush()
        prove_packed(out, password, result)
    return result
