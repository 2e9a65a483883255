"""The portal on a fresh database of each kind, with the portal's world (``tests.factories.portal_world``) and the
local blob store under ``tmp_path/blobs``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.blobs.local import LocalBlobStore
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from tests.exchange.web.portal import Portal
from tests.factories import keyring, portal_world


@pytest.fixture
async def portal(db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path) -> Portal:
    maker = session_factory(db_engine)
    ring = await asyncio.to_thread(keyring, tmp_path)
    async with maker.begin() as session:
        world = await portal_world(session, tmp_path / "store", ring)
    # The packages' blobs are in a local blob store at ``tmp_path/store``, where the world's packages were put.
    blobs = await asyncio.to_thread(LocalBlobStore, tmp_path / "store")
    deps = PortalDeps(keyring=ring, connector_kinds={"outbox": "local"}, data_dir=tmp_path / "data", blobs=blobs)
    client = await aiohttp_client(create_app(maker, deps=deps))
    return Portal(client, world, maker, tmp_path / "data", blobs)
