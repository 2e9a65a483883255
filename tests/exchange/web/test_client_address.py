"""Behind a reverse proxy: the client address every decision uses (allowlist, lockout, audit), and the staff
second factor that is on unless a ward switches it off."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from exchange.settings import ConfigError, load_settings
from exchange.web.app import create_app
from exchange.web.context import PortalDeps, client_address
from ledger.models.audit import AuditEvent
from ledger.models.parties import Party, PersonRole
from tests.exchange.web.portal import Portal
from tests.factories import add_account, add_person

PROXY = ("127.0.0.1/32",)


async def _behind(
    portal: Portal, aiohttp_client: AiohttpClient, forwarded: str | None, trusted: tuple[str, ...]
) -> None:
    deps = PortalDeps(keyring=portal.world.keyring, trusted_proxies=trusted)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps), headers=headers)


async def test_allowlist_sees_the_client_behind_a_trusted_proxy(portal: Portal, aiohttp_client: AiohttpClient) -> None:
    """Contractor N connects from 10.0.0.0/8 through the ward's proxy on 127.0.0.1."""
    await _behind(portal, aiohttp_client, "10.1.2.3", PROXY)
    await portal.login("n-handler")
    page = await portal.client.get("/")
    assert page.status == 200 and "受け取るデータ" in await page.text()
    async with portal.maker() as session:
        addresses = set((await session.execute(select(AuditEvent.source_ip))).scalars())
    assert addresses == {"10.1.2.3"}


async def test_forwarded_for_is_ignored_without_trusted_proxies(portal: Portal, aiohttp_client: AiohttpClient) -> None:
    await _behind(portal, aiohttp_client, "10.1.2.3", ())
    assert (await portal.post_login("n-handler")).status == 401


async def test_client_written_entries_left_of_the_proxy_prove_nothing(
    portal: Portal, aiohttp_client: AiohttpClient
) -> None:
    """The client wrote 10.1.2.3; the proxy appended the real address 198.51.100.7 (outside N's allowlist)."""
    await _behind(portal, aiohttp_client, "10.1.2.3, 198.51.100.7", PROXY)
    assert (await portal.post_login("n-handler")).status == 401


async def test_lockout_counts_the_real_client_not_the_proxy(portal: Portal, aiohttp_client: AiohttpClient) -> None:
    await _behind(portal, aiohttp_client, "198.51.100.7", PROXY)
    for n in range(20):
        await portal.post_login(f"nobody-{n}", "x")
    assert (await portal.post_login("a-handler")).status == 429
    # Everyone else behind the same proxy still signs in.
    await _behind(portal, aiohttp_client, "10.1.2.3", PROXY)
    await portal.login("n-handler")


def test_client_address_takes_the_rightmost_untrusted_hop() -> None:
    trusted = ("127.0.0.1/32", "192.0.2.0/24")
    assert client_address("203.0.113.5", ["10.0.0.1"], trusted) == "203.0.113.5"  # peer is not a proxy
    assert client_address("127.0.0.1", ["10.0.0.1, 198.51.100.7, 192.0.2.10"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", ["10.0.0.1", "198.51.100.7"], trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["garbage"], trusted) == "garbage"  # unparseable: refused by allowlists
    assert client_address("127.0.0.1", ["10.0.0.1"], ()) == "127.0.0.1"


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[web]\ntrusted_proxies = ["127.0.0.1/32", "::1"]\n', encoding="utf-8")
    assert load_settings(config).web.trusted_proxies == ["127.0.0.1/32", "::1"]
    config.write_text('[web]\ntrusted_proxies = ["proxy.example"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "trusted_proxies" in info.value.problems[0]


async def test_staff_need_a_second_factor_by_default(
    portal: Portal, aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    settings = await asyncio.to_thread(load_settings, None)
    assert settings.web.staff_totp_required is True
    async with portal.maker.begin() as session:
        ward = (await session.execute(select(Party).where(Party.code == "ward"))).scalar_one()
        person = await add_person(session, "staff-new", ward, PersonRole.STAFF, section="生活福祉課")
        await add_account(session, "staff-new", PersonRole.STAFF, person)
    response = await portal.post_login("staff-new")
    assert response.status == 303 and response.headers["Location"] == "/login/setup"
    # A ward may switch it off; the hub says so when it starts.
    with caplog.at_level(logging.WARNING, logger="exchange.web.app"):
        await _behind(portal, aiohttp_client, None, ())
        deps = PortalDeps(keyring=portal.world.keyring, staff_totp_required=False)
        portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))
    assert any("staff_totp_required is false" in record.message for record in caplog.records)
    response = await portal.post_login("staff-new")
    assert response.status == 303 and response.headers["Location"] == "/"
