"""LGWAN (SFTP to a real sshd) falls back to DVD media when the server is down, and the register says so."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.media import MediaOptions
from connectors.options import JurisdictionOptions, SecretRef
from connectors.sftp import SftpOptions
from exchange.admin import bootstrap
from exchange.hub import HubServices, services
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.service import IntakeService
from exchange.settings import DatabaseSettings, IntakeSettings, Settings
from ledger.models import LedgerEntry, Package
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import packages, route_dir
from tests.factories import load_demo
from tests.services.sshd import SshdServer


@pytest.fixture
async def hub(tmp_path: Path, db_url: str, sshd_server: SshdServer) -> AsyncIterator[HubServices]:
    key = tmp_path / "client.key"
    key.write_text(sshd_server.client_private_key, encoding="utf-8")
    key.chmod(0o600)
    jp = JurisdictionOptions(country="jp", region="lgwan")
    settings = Settings(
        data_dir=tmp_path / "var",
        database=DatabaseSettings(url=db_url),
        intake=IntakeSettings(quiet_seconds=0),
        connectors={
            "lgwan-printer": SftpOptions(
                host=sshd_server.host,
                port=sshd_server.port,
                username=sshd_server.username,
                host_key=sshd_server.host_public_key,
                private_key=SecretRef(file=key),
                root=sshd_server.root,
                jurisdiction=jp,
            ),
            "dvd": MediaOptions(root=tmp_path / "media", jurisdiction=jp),
        },
    )
    route = tmp_path / "route.toml"
    route.write_text(
        '[[routes]]\ncode = "s2-notices"\nname = "介護保険料 納入通知書 印刷データ"\nprogram = "kaigo-hokenryo"\n'
        'watch_dir = "inbox/介護保険料通知/印刷"\n'
        'targets = [{ contract = "s2-print", connector = "lgwan-printer", fallback = "dvd", '
        'password_channels = ["notice"] }]\n',
        encoding="utf-8",
    )
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await load_demo(session, settings.data_dir.resolve(), route)
        yield running


async def deliver_all(hub: HubServices) -> None:
    quick = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(0), max_attempts=2)
    pipeline = Pipeline(hub.sessions, hub.connectors, hub.pipeline.preparer, quick, blobs=hub.blobs)
    await IntakeService(hub.sessions, pipeline, hub.settings.intake).scan_once()
    await pipeline.drain()


async def test_sftp_down_falls_back_to_dvd_and_the_register_shows_it(
    hub: HubServices, sshd_server: SshdServer, tmp_path: Path
) -> None:
    folder = await route_dir(hub, "s2-notices")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "kaigo-hokenryo", 10, folder / "第1期.csv", seed=1)
    await deliver_all(hub)
    [first] = await packages(hub)
    assert first.delivered_via == "lgwan-printer"
    assert (sshd_server.root / "s2-print" / first.zip_name).exists()

    sshd_server.stop()
    await asyncio.to_thread(write_dummy_csv, "kaigo-hokenryo", 10, folder / "第2期.csv", seed=2)
    await deliver_all(hub)
    second = (await packages(hub))[1]
    assert second.delivered_via == "dvd"
    assert second.attempts == 2, "two tries on the primary, then the fallback"
    assert list((tmp_path / "media" / "staging").rglob(second.zip_name)), "the package waits on the DVD staging"

    async with hub.sessions() as session:
        entries = [
            json.loads(row.entry)
            for row in (await session.execute(select(LedgerEntry).order_by(LedgerEntry.idx))).scalars()
            if row.package_id == second.public_id
        ]
    kinds = [(e["kind"], e["data"]["channel"]) for e in entries]
    assert kinds == [("package.sealed", "lgwan-printer"), ("package.fallback", "dvd"), ("package.delivered", "dvd")]
    text = (folder / "第2期.csv.result.txt").read_text(encoding="utf-8")
    assert "代替経路（dvd）" in text
    async with hub.sessions() as session:
        row = await session.get(Package, second.id)
        assert row is not None and row.delivered_via == "dvd"
