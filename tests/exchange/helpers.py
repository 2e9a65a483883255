"""Helpers for tests that run the hub's services: its settings, a duty context, and reading back what it did."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Connector
from connectors.local import LocalOptions
from connectors.media import MediaOptions
from connectors.options import JurisdictionOptions, SecretRef
from exchange.blobs.local import LocalBlobStore
from exchange.duties.scheduler import DutyConfig, DutyContext, DutyRunner
from exchange.hub import HubServices
from exchange.intake.service import IntakeService
from exchange.settings import DatabaseSettings, IntakeSettings, Settings
from ledger.db import session_factory
from ledger.models import IntakeFile, LedgerEntry, Package, Route
from ledger.models.duties import DutyRun
from ledger.tlog.checkpoint import generate_key_file
from tests.clock import Clock
from tests.services import require_binary


def hub_settings(tmp_path: Path, db_url: str) -> Settings:
    """A hub on ``tmp_path/var`` that delivers to ``tmp_path/outbox`` and burns DVDs under ``tmp_path/media``."""
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


async def duty_context(
    engine: AsyncEngine, tmp_path: Path, clock: Clock, connectors: Mapping[str, Connector] | None = None
) -> DutyContext:
    """The duties' context on ``clock``, with a ledger signing key in ``tmp_path`` (made on first use) and the
    local blob store ``tmp_path/store`` (where ``tests.factories.add_package(store=…)`` puts packages)."""
    key_path = tmp_path / "ledger-signing.key"
    if not await asyncio.to_thread(key_path.exists):
        await asyncio.to_thread(generate_key_file, key_path, "test.handover/ledger")
    config = DutyConfig(signing_key=SecretRef(file=key_path), ledger_origin="test.handover/ledger")
    blobs = await asyncio.to_thread(LocalBlobStore, tmp_path / "store")
    return DutyContext(session_factory(engine), connectors or {}, config, blobs, clock=clock)


async def run_due(runner: DutyRunner) -> list[DutyRun]:
    """Every due duty once, in order, as one round of the scheduler's ticks would run them."""
    return [run for name in runner.duties if (run := await runner.run_if_due(name)) is not None]


async def route_dir(hub: HubServices, code: str) -> Path:
    async with hub.sessions() as session:
        route = (await session.execute(select(Route).where(Route.code == code))).scalar_one()
        return hub.pipeline.folders(route).watch


async def process(hub: HubServices) -> None:
    """One look at every folder, then every queued step, as the running hub would do."""
    intake = IntakeService(hub.sessions, hub.pipeline, hub.settings.intake)
    await intake.scan_once()
    await hub.pipeline.drain()


async def packages(hub: HubServices) -> list[Package]:
    async with hub.sessions() as session:
        return list((await session.execute(select(Package).order_by(Package.id))).scalars())


async def intakes(hub: HubServices) -> list[IntakeFile]:
    async with hub.sessions() as session:
        return list((await session.execute(select(IntakeFile).order_by(IntakeFile.id))).scalars())


async def ledger_kinds(hub: HubServices) -> list[str]:
    async with hub.sessions() as session:
        return list((await session.execute(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).scalars())


def seven_zip_extract(archive: Path, password: str, out: Path) -> subprocess.CompletedProcess[str]:
    seven = require_binary("7zz")
    return subprocess.run(
        [seven, "x", f"-o{out}", "-y", archive], input=password + "\n", capture_output=True, text=True, timeout=120
    )
