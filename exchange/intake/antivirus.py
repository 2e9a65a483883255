"""Virus scanning through the ClamAV daemon (C-12), over its local socket with the INSTREAM command.

The file is streamed to clamd in chunks, so its size does not matter to our memory; clamd never needs read
access to the ward's shares. A scanner that cannot be reached raises ``ScannerUnavailable`` (an OSError): the
hub then moves nothing and retries, and staff see why (fail closed).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK = 256 * 1024


class ScannerUnavailable(OSError):
    """clamd is configured but cannot be reached or answered nonsense."""


class StreamScanner(Protocol):
    """What the portal needs of a virus scanner: content that exists in plain only as a stream."""

    async def scan_stream(self, chunks: AsyncIterator[bytes]) -> str | None:
        """The signature name when infected, None when clean; raises OSError when the scanner is down."""


class ClamdScanner:
    def __init__(self, socket_path: Path, *, timeout: float = 120.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    async def scan(self, path: Path) -> str | None:
        """The signature name when the file is infected, None when clean."""
        return await self.scan_stream(_file_chunks(path))

    async def scan_stream(self, chunks: AsyncIterator[bytes]) -> str | None:
        """The signature name when the streamed content is infected, None when clean.

        For content that must not be written in plain to disk (uploads are sealed as they arrive, then read back
        from the sealed file into clamd). An error raised by ``chunks`` itself (e.g. a sealed file that does not
        authenticate) propagates unchanged.
        """
        try:
            return await asyncio.wait_for(self._scan(chunks), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ScannerUnavailable(
                f"ウイルス対策ソフト（clamd: {self.socket_path}）に接続できません: {type(exc).__name__}"
            ) from exc

    async def _scan(self, chunks: AsyncIterator[bytes]) -> str | None:
        reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        try:
            writer.write(b"zINSTREAM\0")
            async for chunk in chunks:
                if chunk:  # a zero length would end the stream for clamd
                    writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            answer = (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace")
        finally:
            writer.close()
            await writer.wait_closed()
        return _verdict(answer)

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        except OSError:
            return False
        try:
            writer.write(b"zPING\0")
            await writer.drain()
            return (await reader.readuntil(b"\0")) == b"PONG\0"
        except (OSError, asyncio.IncompleteReadError):
            return False
        finally:
            writer.close()
            await writer.wait_closed()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


def _verdict(answer: str) -> str | None:
    # Answers look like "stream: OK", "stream: Eicar-Signature FOUND" or "... ERROR".
    if answer.endswith(" OK"):
        return None
    if answer.endswith(" FOUND"):
        return answer.removeprefix("stream: ").removesuffix(" FOUND")
    raise ScannerUnavailable(f"ウイルス対策ソフトが検査できませんでした: {answer}")
