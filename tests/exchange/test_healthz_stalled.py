"""``/healthz`` against a database server that accepts connections and never answers (issue 13: a stalled server
or a held lock must not hang the probe that is meant to report it)."""

from __future__ import annotations

import asyncio
import time

import pytest
from pytest_aiohttp import AiohttpClient

from exchange.supervision import Health
from exchange.web import app as web_app
from ledger.db import create_engine, session_factory


async def test_a_stalled_database_is_reported_unreachable_in_time(
    aiohttp_client: AiohttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, then say nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/stalled")
    monkeypatch.setattr(web_app, "HEALTH_DATABASE_TIMEOUT_SECONDS", 0.5)
    try:
        client = await aiohttp_client(web_app.create_app(session_factory(engine), health=Health()))
        started = time.monotonic()
        response = await client.get("/healthz")
        assert time.monotonic() - started < 5
        assert response.status == 503
        assert (await response.json())["database"] == "unreachable"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
        await engine.dispose()
