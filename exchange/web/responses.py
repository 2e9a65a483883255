"""Response helpers shared by the portal's handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import BinaryIO
from urllib.parse import quote

from aiohttp import web

from exchange.blobs.store import BlobError, BlobStore

Span = tuple[int, int]  # the bytes [start, stop) of a blob to send


def content_disposition(name: str, fallback: str) -> str:
    """An attachment named ``name`` (RFC 5987), with an ASCII ``fallback`` for old clients."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def byte_span(request: web.Request, size: int, etag: str) -> Span | None:
    """The part of a ``size``-byte blob a ``Range`` request asks for; None for the whole blob.

    A single range (``bytes=N-``, ``bytes=N-M``, ``bytes=-N``) as aiohttp parses it; an ``If-Range`` other than
    this blob's entity tag asks for the whole blob. Raises 416 for a range outside the blob or one not understood.
    """
    try:
        wanted = request.http_range
    except ValueError:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"}) from None
    if wanted.start is None and wanted.stop is None:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != f'"{etag}"':
        return None
    start = wanted.start if wanted.start is not None else 0
    start = max(size + start, 0) if start < 0 else start
    stop = size if wanted.stop is None else min(wanted.stop, size)
    if start >= size or start >= stop:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, stop


class BlobResponse(web.StreamResponse):
    """A blob sent from the blob store, whole (200) or the ``span`` a Range asked for (206).

    With ``file`` (the local store's blob, opened once and checked) the bytes go by ``loop.sendfile`` from that
    descriptor: the kernel copies them from the page cache to the socket, as nginx does (over TLS asyncio falls
    back to reads in a thread). Without it they stream from ``store.read`` in the store's chunks (S3).
    The handler calls ``send`` itself, so it learns whether the transfer ended complete; aiohttp's own prepare
    of the returned response is then a no-op. ``etag`` (the blob's SHA-256) lets a client resume with If-Range.
    """

    def __init__(
        self,
        store: BlobStore,
        key: str,
        size: int,
        span: Span | None,
        *,
        etag: str,
        headers: Mapping[str, str],
        file: BinaryIO | None = None,
    ) -> None:
        super().__init__(status=200 if span is None else 206, headers=headers)
        self._blobs = store
        self._blob_key = key
        self._file = file
        self._from, self._until = span if span is not None else (0, size)
        self.headers["Accept-Ranges"] = "bytes"
        self.etag = etag
        if span is not None:
            self.headers["Content-Range"] = f"bytes {self._from}-{self._until - 1}/{size}"
        self.headers["Content-Length"] = str(self._until - self._from)

    async def send(self, request: web.BaseRequest) -> None:
        """Send the bytes; raises when the client goes away or the blob fails before the last byte."""
        await self.prepare(request)
        wanted = self._until - self._from
        if self._file is not None:
            sent = await self._send_file(request, self._file, wanted)
        else:
            sent = await self._stream(wanted)
        if sent != wanted:
            raise BlobError(f"blob {self._blob_key} ended {wanted - sent} bytes early")
        await self.write_eof()

    async def _send_file(self, request: web.BaseRequest, file: BinaryIO, count: int) -> int:
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("the client went away before the body")
        # The headers are in the transport's buffer (StreamResponse sends them at prepare); sendfile waits for
        # that buffer to empty before the kernel sends the file's bytes behind them.
        return await asyncio.get_running_loop().sendfile(transport, file, self._from, count)

    async def _stream(self, count: int) -> int:
        remaining = count
        chunks = self._blobs.read(self._blob_key, start=self._from)
        try:
            async for chunk in chunks:
                piece = chunk[:remaining]
                await self.write(piece)
                remaining -= len(piece)
                if remaining == 0:
                    break
        finally:
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()  # a range that ends early: the backend's file or connection is let go now
        return count - remaining
