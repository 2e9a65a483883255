"""Response helpers shared by the portal's handlers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import threading
from collections.abc import AsyncGenerator, Mapping
from typing import BinaryIO, Final
from urllib.parse import quote

from aiohttp import web

from exchange.blobs.store import CHUNK_BYTES, BlobError, BlobStore

Span = tuple[int, int]  # the bytes [start, stop) of a blob to send

# Transfers sent by a thread of their own at once (see ``_sendfile_by_thread``); any more use the loop's sendfile.
SENDER_THREADS: Final = 64
_POLL_MS: Final = 200  # how often a sending thread that waits for room in the socket looks whether to stop


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

    With ``file`` (the local store's blob, opened once and checked) the bytes go by ``sendfile`` from that
    descriptor: the kernel copies them from the page cache to the socket, as nginx does, in a thread of the
    transfer's own (``_sendfile_by_thread``), else by ``loop.sendfile``. Where the kernel cannot (the hub's own
    TLS listener) they are read from that same descriptor in 1 MiB chunks in a thread (asyncio's own fallback
    reads 16 KiB at a time). Without ``file`` they stream from ``store.read`` in its chunks (S3).
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
        if transport.get_extra_info("sslcontext") is None:  # the kernel cannot encrypt: TLS reads below
            sent = await _sendfile_by_thread(transport, file, self._from, count)
            if sent is not None:
                return sent
            # The headers are in the transport's buffer (StreamResponse sends them at prepare); sendfile waits for
            # that buffer to empty before the kernel sends the file's bytes behind them.
            try:
                return await asyncio.get_running_loop().sendfile(transport, file, self._from, count, fallback=False)
            except asyncio.SendfileNotAvailableError:
                pass  # raised before any byte was sent
        descriptor, position, end = file.fileno(), self._from, self._from + count
        while position < end:
            chunk = await asyncio.to_thread(os.pread, descriptor, min(CHUNK_BYTES, end - position), position)
            if not chunk:
                break
            await self.write(chunk)
            position += len(chunk)
        return position - self._from

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


class _Senders:
    """How many transfers are being sent by threads now (changed on the event loop's thread only)."""

    active = 0


async def _sendfile_by_thread(transport: asyncio.Transport, file: BinaryIO, offset: int, count: int) -> int | None:
    """Send ``count`` bytes of ``file`` from ``offset`` by ``os.sendfile`` in a thread; None when this (plain TCP)
    transport cannot be handed over (bytes still in its buffer, ``SENDER_THREADS`` busy).

    Why not only ``loop.sendfile``: it sends what fits in the socket, then unregisters and re-registers the socket
    with epoll and goes round the event loop for the next piece, which on loopback costs the hub about three times
    nginx's CPU per gigabyte (bench/portal.py). A thread loops on sendfile itself, waiting in ``poll`` only when
    the socket is full. The thread works on duplicates of both descriptors (the same open file and the same
    connection), so whatever the loop closes meanwhile, it never writes to a number reused by another file; while
    it sends, the transport does not read (a pipelined request waits) and nothing else writes to it.
    """
    socket = transport.get_extra_info("socket")
    if socket is None or transport.get_write_buffer_size() or _Senders.active >= SENDER_THREADS:
        return None
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    stop = threading.Event()
    connection, source = os.dup(socket.fileno()), os.dup(file.fileno())

    def report(outcome: int | BaseException) -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def run() -> None:
        try:
            outcome: int | BaseException = _send(connection, source, offset, count, stop)
        except BaseException as exc:  # handed to the awaiting handler
            outcome = exc
        finally:
            os.close(connection)
            os.close(source)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(report, outcome)

    reading = transport.is_reading()
    transport.pause_reading()
    _Senders.active += 1
    try:
        threading.Thread(target=run, name="sendfile", daemon=True).start()
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            stop.set()  # the thread ends within _POLL_MS, or at once if the client is gone
            done.add_done_callback(lambda ended: ended.cancelled() or ended.exception())  # nobody awaits it now
            raise
    finally:
        _Senders.active -= 1
        if reading and not transport.is_closing():
            transport.resume_reading()


def _send(connection: int, source: int, offset: int, count: int, stop: threading.Event) -> int:
    """The sending thread: sendfile until ``count`` bytes went, the file ended early or ``stop`` was set."""
    room = select.poll()
    room.register(connection, select.POLLOUT)
    sent = 0
    while sent < count and not stop.is_set():
        try:
            piece = os.sendfile(connection, source, offset + sent, count - sent)
        except BlockingIOError:
            room.poll(_POLL_MS)
            continue
        if piece == 0:
            break  # the file is shorter than it was when checked
        sent += piece
    return sent
