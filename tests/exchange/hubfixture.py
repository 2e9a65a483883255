"""A whole hub on a temporary data directory and a fresh database of each kind, with the demo contracts."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.local import LocalOptions
from connectors.media import MediaOptions
from connectors.options import JurisdictionOptions
from exchange.admin import bootstrap
from exchange.admin.data_import import import_files
from exchange.hub import HubServices, services
from exchange.intake.service import IntakeService
from exchange.settings import DatabaseSettings, IntakeSettings, Settings
from ledger.models import LedgerEntry, Package, Route
from tests.services import require_binary

ROOT = Path(__file__).parents[2]
DEMO = sorted((ROOT / "config" / "demo").glob("*.toml"))


def hub_settings(tmp_path: Path, db_url: str) -> Settings:
    jp = JurisdictionOptions(country="jp", region="test")
    return Settings(
        data_dir=tmp_path / "var",
        database=DatabaseSettings(url=db_url),
        intake=IntakeSettings(quiet_seconds=0),
        connectors={
            "outbox": LocalOptions(root=tmp_path / "outbox", jurisdiction=jp),
            "dvd": MediaOptions(root=tmp_path / "media", jurisdiction=jp),
        },
    )


@pytest.fixture
async def hub(tmp_path: Path, db_url: str) -> AsyncIterator[HubServices]:
    settings = hub_settings(tmp_path, db_url)
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await import_files(session, DEMO, base_dir=settings.data_dir.resolve())
        yield running


async def route_dir(hub: HubServices, code: str) -> Path:
    async with hub.sessions() as session:
        route = (await session.execute(select(Route).where(Route.code == code))).scalar_one()
        return Path(route.watch_dir)


async def process(hub: HubServices) -> None:
    """One look at every folder, then every queued step, as the running hub would do."""
    intake = IntakeService(hub.sessions, hub.pipeline, hub.settings.intake)
    await intake.scan_once()
    await hub.pipeline.drain()


async def packages(hub: HubServices) -> list[Package]:
    async with hub.sessions() as session:
        return list((await session.execute(select(Package).order_by(Package.id))).scalars())


async def ledger_kinds(hub: HubServices) -> list[str]:
    async with hub.sessions() as session:
        return list((await session.execute(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).scalars())


def seven_zip_extract(archive: Path, password: str, out: Path) -> subprocess.CompletedProcess[str]:
    seven = require_binary("7zz")
    return subprocess.run(
        [seven, "x", f"-o{out}", "-y", archive], input=password + "\n", capture_output=True, text=True, timeout=120
    )
