from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from tests.exchange.web.world import World, build, keyring


@dataclass
class Portal:
    client: TestClient
    world: World
    maker: async_sessionmaker[AsyncSession]
    data_dir: Path


@pytest.fixture
async def portal(db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path) -> Portal:
    maker = session_factory(db_engine)
    ring = keyring(tmp_path)
    async with maker.begin() as session:
        world = await build(session, tmp_path, ring)
    deps = PortalDeps(keyring=ring, connector_kinds={"outbox": "local"}, data_dir=tmp_path / "data")
    client = await aiohttp_client(create_app(maker, deps=deps))
    return Portal(client, world, maker, tmp_path / "data")
