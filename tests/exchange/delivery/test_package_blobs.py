"""Two hosts of one hub, sharing only the database and the blob store (as two servers share a bucket): a package
packed and delivered by host A's worker is downloaded through host B's portal, and host B's retention sweep
deletes it from the shared store, its certificate naming the key it deleted."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from exchange.admin import bootstrap
from exchange.blobs.local import LocalBlobStore
from exchange.hub import HubServices, services
from exchange.retention.sweep import Sweeper
from exchange.settings import LocalBlobSettings, Settings
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models import PackageStatus
from ledger.models.parties import Person
from ledger.models.retention import HubDeletionItem
from ledger.tlog.checkpoint import SigningKey
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import hub_settings, packages, process, route_dir
from tests.exchange.web.portal import Portal
from tests.factories import PortalWorld, add_account, add_totp, load_demo


def _host(tmp_path: Path, name: str, db_url: str) -> Settings:
    """Host ``name``: a data directory of its own; the database, the keys, the blob store and the endpoints
    (the outbox) shared, as every host of a hub is configured alike."""
    settings = hub_settings(tmp_path / name, db_url)
    outbox = settings.connectors["outbox"].model_copy(update={"root": tmp_path / "outbox"})
    return settings.model_copy(
        update={
            "connectors": {**settings.connectors, "outbox": outbox},
            "blobs": LocalBlobSettings(root=tmp_path / "bucket"),
            "master_key_file": tmp_path / "keys" / "master.key",
            "signing_key_file": tmp_path / "keys" / "ledger-signing.key",
        }
    )


@pytest.fixture
async def two_hosts(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[HubServices, HubServices]]:
    await asyncio.to_thread((tmp_path / "keys").mkdir)
    async with AsyncExitStack() as stack:
        hosts = []
        for name in ("a", "b"):
            settings = _host(tmp_path, name, db_url)
            await bootstrap.initialise(settings)
            hosts.append(await stack.enter_async_context(services(settings)))
        a, b = hosts
        async with a.sessions.begin() as session:
            await load_demo(session, a.settings.data_dir.resolve())
        yield a, b


async def _portal_of(hub: HubServices, aiohttp_client: AiohttpClient, login: str) -> Portal:
    """The hub's own portal (its blob store, its data directory), with an account for the person ``login``."""
    world = PortalWorld(hub.keyring)
    async with hub.sessions.begin() as session:
        person = (await session.execute(select(Person).where(Person.code == login))).scalar_one()
        account = await add_account(session, login, person.role, person)
        world.secrets[login] = await add_totp(session, account, hub.keyring)
    deps = PortalDeps(
        keyring=hub.keyring,
        connector_kinds=hub.connector_kinds,
        data_dir=hub.settings.data_dir,
        blobs=hub.blobs,
    )
    client = await aiohttp_client(create_app(hub.sessions, deps=deps))
    assert isinstance(hub.blobs, LocalBlobStore)
    return Portal(client, world, hub.sessions, hub.settings.data_dir, hub.blobs)


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


async def test_packed_on_host_a_downloaded_through_host_b_and_erased_by_host_bs_sweep(
    two_hosts: tuple[HubServices, HubServices], aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    a, b = two_hosts
    folder = await route_dir(a, "s1-to-contractor")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 20, folder / "対象者.csv", encoding="cp932")
    await process(a)  # host A's worker packs, stores and delivers
    [package] = await packages(a)
    assert package.status == PackageStatus.DELIVERED, package.last_error
    assert package.blob_key == f"packages/{package.public_id}.zip"
    blob = tmp_path / "bucket" / package.blob_key
    assert await asyncio.to_thread(blob.is_file)
    assert await asyncio.to_thread(_files, a.settings.data_dir / "store") == [], "A's working copy went once stored"
    assert await asyncio.to_thread(_files, a.settings.data_dir / "cache") == [], "no copy left from the delivery"

    portal = await _portal_of(b, aiohttp_client, "a-handler")
    await portal.login("a-handler")
    url = f"/packages/{package.public_id}/download"
    whole = await portal.client.get(url)
    assert whole.status == 200, await whole.text()
    data = await whole.read()
    assert len(data) == package.size and hashlib.sha256(data).hexdigest() == package.sha256
    tail = await portal.client.get(url, headers={"Range": "bytes=100-"})
    assert tail.status == 206 and await tail.read() == data[100:]
    assert await asyncio.to_thread(_files, b.settings.data_dir / "store") == [], "B served it without a copy"

    sweeper = Sweeper(
        b.sessions,
        b.connectors,
        blobs=b.blobs,
        signing_key=SigningKey.generate("test.handover/ledger"),
    )
    result = await sweeper.sweep(datetime(2100, 1, 1, tzinfo=UTC))
    assert result.erased == 1 and result.issued is not None, result.errors
    assert not await asyncio.to_thread(blob.exists), "erased from the shared store by the other host"
    assert await asyncio.to_thread(_files, tmp_path / "outbox") == [], "and the delivered copy too"
    async with b.sessions() as session:
        item = await session.scalar(select(HubDeletionItem))
    assert item is not None
    [store_copy] = [copy for copy in item.copies if copy["target"] == "store"]
    assert (store_copy["location"], store_copy["store"]) == (package.blob_key, "local")
    assert store_copy["verification"] == "local blob store: no blob under the key after deletion"
