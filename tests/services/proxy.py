"""A TCP proxy in front of a real server that can stop forwarding (a stalled server) or cut the connection.

It runs on the test's own event loop. ``stall_after`` bytes from client to server are forwarded and then nothing
more in either direction, as when a server process hangs (or a firewall silently drops a flow); ``cut_after``
closes both sides of that connection at once, as when the server process serving the session is killed.
"""

from __future__ import annotations

import asyncio
import contextlib


class FaultyProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.forwarded = 0  # client → server bytes so far
        self.stall_after: int | None = None
        self.cut_after: int | None = None
        self.stalled = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        self._writers += [client_writer, server_writer]
        upstream = asyncio.ensure_future(self._pump(client_reader, server_writer, counted=True))
        downstream = asyncio.ensure_future(self._pump(server_reader, client_writer, counted=False))
        for task in (upstream, downstream):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for writer in (client_writer, server_writer):
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, counted: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(64 * 1024):
                if self.stalled.is_set():
                    await asyncio.Event().wait()  # forward nothing more, and read nothing more, for ever
                if counted:
                    self.forwarded += len(data)
                    if self.cut_after is not None and self.forwarded > self.cut_after:
                        self.cut_after = None  # one cut: the next connection goes through
                        return
                    if self.stall_after is not None and self.forwarded > self.stall_after:
                        self.stalled.set()
                        await asyncio.Event().wait()
                writer.write(data)
                await writer.drain()
