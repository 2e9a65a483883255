"""``/metrics`` after a real flow on a whole hub, and who may scrape it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.options import SecretRef
from exchange.blobs.local import LocalBlobStore
from exchange.duties.scheduler import DutyRunner, build_context
from exchange.hub import HubServices
from exchange.settings import ConfigError, WebSettings, load_settings
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from ledger.models import IntakeStatus, PackageStatus, Person, PersonRole
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, packages, process, route_dir
from tests.exchange.web.portal import Portal
from tests.factories import PortalWorld, add_account, add_totp

S1 = "seikatsu-hogo-tsuika"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by name and labels, as a scraper reads them."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def contractor_portal(hub: HubServices, aiohttp_client: AiohttpClient, tmp_path: Path) -> Portal:
    """The portal on the hub's database, with a signing-in account for the demo's handler of contract s1-main."""
    world = PortalWorld(hub.keyring)
    async with hub.sessions.begin() as session:
        person = (await session.execute(select(Person).where(Person.code == "a-handler"))).scalar_one()
        account = await add_account(session, "a-handler", PersonRole.HANDLER, person)
        world.secrets["a-handler"] = await add_totp(session, account, hub.keyring)
    deps = PortalDeps(
        keyring=hub.keyring, connector_kinds=hub.connector_kinds, data_dir=tmp_path / "portal", blobs=hub.blobs
    )
    client = await aiohttp_client(create_app(hub.sessions, deps=deps))
    assert isinstance(hub.blobs, LocalBlobStore)
    return Portal(client, world, hub.sessions, tmp_path / "portal", hub.blobs)


async def test_metrics_count_a_real_flow(hub: HubServices, aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    # A delivered package and a quarantined drop, through the real intake.
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, S1, 5, folder / "対象者一覧.csv", encoding="cp932")
    (folder / "宗教あり.csv").write_text("郵便番号,住所,氏名,宗教\n000-0001,見本区,見本 太郎,無\n", encoding="cp932")
    await process(hub)
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED, package.last_error
    assert [i.status for i in await intakes(hub)].count(IntakeStatus.QUARANTINED) == 1

    # A failed sign-in, then the handler signs in and downloads the package.
    portal = await contractor_portal(hub, aiohttp_client, tmp_path)
    refused = await portal.post_login("a-handler", "not the password")
    assert refused.status == 401 and "正しくありません" in await refused.text()
    await portal.login("a-handler")
    download = await portal.client.get(f"/packages/{package.public_id}/download")
    assert download.status == 200, await download.text()
    assert len(await download.read()) == package.size

    # One duty run that succeeds and one that fails (its signing key is missing).
    context = await asyncio.to_thread(build_context, hub.settings, hub.sessions, hub.connectors, hub.blobs)
    ran = await DutyRunner(context).run_now("ledger.checkpoint")
    assert ran is not None and ran.ok
    broken = dataclasses.replace(context.config, signing_key=SecretRef(file=tmp_path / "missing.key"))
    failed = await DutyRunner(dataclasses.replace(context, config=broken)).run_now("ledger.checkpoint")
    assert failed is not None and failed.ok is False

    scrape = await portal.client.get("/metrics")
    assert scrape.status == 200
    assert scrape.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse(await scrape.text())
    assert value(samples, "handover_intake_queue_depth", status="pending") == 0
    assert value(samples, "handover_deliveries_total", route="s1-to-contractor") == 1
    assert value(samples, "handover_deliveries_total", route="s1-to-printer") == 0, "every route has its series"
    assert value(samples, "handover_delivery_failures_total", route="s1-to-contractor") == 0
    assert value(samples, "handover_quarantines_total", route="s1-to-contractor") == 1
    assert value(samples, "handover_quarantine_waiting", route="s1-to-contractor") == 1
    assert value(samples, "handover_login_failures_total", action="login.failed") == 1
    assert value(samples, "handover_login_failures_total", action="login.totp_failed") == 0
    assert value(samples, "handover_portal_downloads_total") == 1
    assert value(samples, "handover_portal_download_bytes_total") == package.size
    assert value(samples, "handover_duty_runs_total", duty="ledger.checkpoint") == 2
    assert value(samples, "handover_duty_failures_total", duty="ledger.checkpoint") == 1
    assert value(samples, "handover_duty_runs_total", duty="retention.sweep") == 0
    assert ran.finished_at is not None
    last = value(samples, "handover_duty_last_success_timestamp_seconds", duty="ledger.checkpoint")
    assert last == ran.finished_at.timestamp()
    text = await scrape.text()
    assert "a-handler" not in text and "見本" not in text, "no people or names in the figures"
    # A scraper that asks for OpenMetrics gets it.
    openmetrics = await portal.client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await openmetrics.text()).endswith("# EOF\n")


async def scrape(engine: AsyncEngine, aiohttp_client: AiohttpClient, deps: PortalDeps, forwarded: str | None) -> int:
    client = await aiohttp_client(create_app(session_factory(engine), deps=deps))
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return (await client.get("/metrics", headers=headers)).status


async def test_only_allowed_addresses_may_scrape(db_engine: AsyncEngine, aiohttp_client: AiohttpClient) -> None:
    assert await scrape(db_engine, aiohttp_client, PortalDeps(), None) == 200, "loopback by default"
    operators = ("10.0.0.0/8",)
    behind_proxy = PortalDeps(trusted_proxies=("127.0.0.1/32",), metrics_allow=operators)
    assert await scrape(db_engine, aiohttp_client, behind_proxy, "10.1.2.3") == 200
    assert await scrape(db_engine, aiohttp_client, behind_proxy, "203.0.113.9") == 404
    # A client cannot slip an allowed address in front of its own: the proxy appends the real one.
    assert await scrape(db_engine, aiohttp_client, behind_proxy, "10.1.2.3, 203.0.113.9") == 404
    assert await scrape(db_engine, aiohttp_client, behind_proxy, None) == 404, "the proxy itself is not an operator"
    # Without trusted proxies the header is not believed: the peer (loopback) is not in the list.
    direct = PortalDeps(metrics_allow=operators)
    assert await scrape(db_engine, aiohttp_client, direct, "10.1.2.3") == 404


def test_metrics_allow_setting(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    assert WebSettings().metrics_allow == ["127.0.0.1/32", "::1/128"], "loopback only by default"
    config.write_text('[web]\nmetrics_allow = ["10.20.30.40/32"]\n', encoding="utf-8")
    assert load_settings(config).web.metrics_allow == ["10.20.30.40/32"]
    config.write_text('[web]\nmetrics_allow = ["prometheus.internal"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert info.value.problems == [
        "web: metrics_allow: 'prometheus.internal' is not an address or network (e.g. 127.0.0.1/32)"
    ]
