"""The example nginx configuration in front of a real portal: TLS and HSTS, the client's address reaching the hub
through X-Forwarded-For (and only through it), Secure cookies, a download, and /metrics for the scraper only."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.blobs.local import LocalBlobStore
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from ledger.models.audit import AuditEvent
from tests.deploy.nginx import HOST, Prepared, prepare
from tests.factories import PASSWORD, PORTAL_CONTENT, PortalWorld, keyring, portal_world
from tests.services import require_binary

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CLIENT = "127.0.0.2"  # the browser's address: loopback, but not nginx's (127.0.0.1)
SCRAPER = "127.0.0.3"  # the monitoring server's


@contextlib.asynccontextmanager
async def running_nginx(prepared: Prepared, directory: Path) -> AsyncIterator[None]:
    nginx = require_binary("nginx")
    process = await asyncio.create_subprocess_exec(nginx, "-p", f"{directory}/", "-c", str(prepared.main))
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", prepared.ports["443"])
                writer.close()
                await writer.wait_closed()
                break
            assert process.returncode is None, "nginx exited"
            await asyncio.sleep(0.05)
        yield
    finally:
        process.terminate()
        await process.wait()


def browser(prepared: Prepared, source: str) -> aiohttp.ClientSession:
    """A client from ``source`` that trusts the test certificate (and keeps cookies for an address host)."""
    context = ssl.create_default_context(cafile=str(prepared.cert))
    connector = aiohttp.TCPConnector(ssl=context, local_addr=(source, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, server_hostname=HOST) as answer:
        match = CSRF.search(await answer.text())
    assert match
    return match.group(1)


async def sign_in(session: aiohttp.ClientSession, base: str, world: PortalWorld, login: str) -> str:
    """Password and TOTP as a browser does it; returns the session cookie's Set-Cookie line."""
    form = {"login": login, "password": PASSWORD, "csrf_token": await csrf(session, f"{base}/login")}
    async with session.post(f"{base}/login", data=form, allow_redirects=False, server_hostname=HOST) as answer:
        assert answer.status == 303 and answer.headers["Location"] == "/login/totp", await answer.text()
    form = {"code": world.code(login), "csrf_token": await csrf(session, f"{base}/login/totp")}
    async with session.post(f"{base}/login/totp", data=form, allow_redirects=False, server_hostname=HOST) as answer:
        assert answer.status == 303, await answer.text()
        return answer.headers["Set-Cookie"]


async def test_the_portal_behind_the_example_proxy(
    db_engine: AsyncEngine, aiohttp_server: AiohttpServer, tmp_path: Path, deploy_dir: Path
) -> None:
    maker = session_factory(db_engine)
    ring = await asyncio.to_thread(keyring, tmp_path)
    async with maker.begin() as session:
        world = await portal_world(session, tmp_path / "store", ring)
    # The hub as deploy/hub.toml sets it: nginx on loopback is trusted; the scraper may read /metrics.
    deps = PortalDeps(
        keyring=ring,
        connector_kinds={"outbox": "local"},
        data_dir=tmp_path / "data",
        trusted_proxies=("127.0.0.1/32", "::1/128"),
        metrics_allow=(f"{SCRAPER}/32",),
        blobs=await asyncio.to_thread(LocalBlobStore, tmp_path / "store"),
    )
    hub: TestServer = await aiohttp_server(create_app(maker, deps=deps), host="127.0.0.1")
    prepared = await asyncio.to_thread(
        prepare, deploy_dir / "nginx" / "handover.conf", tmp_path, upstream_port=hub.port, scraper=SCRAPER
    )
    base = f"https://127.0.0.1:{prepared.ports['443']}"
    async with running_nginx(prepared, tmp_path), browser(prepared, CLIENT) as client:
        # Plain HTTP only redirects to HTTPS.
        async with client.get(f"http://127.0.0.1:{prepared.ports['80']}/", allow_redirects=False) as answer:
            assert answer.status == 301 and answer.headers["Location"].startswith("https://")
        async with client.get(f"{base}/healthz", server_hostname=HOST) as answer:
            assert answer.status == 200
            assert answer.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
            assert answer.headers["X-Frame-Options"] == "DENY", "the hub's own headers pass through"

        # A wrong password with a forged X-Forwarded-For: the hub records the address nginx saw.
        form = {"login": "a-handler", "password": "wrong", "csrf_token": await csrf(client, f"{base}/login")}
        forged = {"X-Forwarded-For": SCRAPER}
        async with client.post(f"{base}/login", data=form, headers=forged, server_hostname=HOST) as answer:
            assert answer.status == 401
        async with maker() as session:
            failed = (await session.execute(select(AuditEvent).where(AuditEvent.action == "login.failed"))).scalar_one()
        assert failed.source_ip == CLIENT

        # Sign-in (the contractor's allowlist is 127.0.0.0/8) and a download through the proxy.
        cookie = await sign_in(client, base, world, "a-handler")
        assert "secure" in cookie.lower().split("; "), cookie
        package = world.packages["main"]
        async with client.get(f"{base}/packages/{package.public_id}/download", server_hostname=HOST) as answer:
            assert answer.status == 200, await answer.text()
            assert await answer.read() == PORTAL_CONTENT

        # /metrics: never on the public listener, even when the hub itself would allow the address.
        async with client.get(f"{base}/metrics", server_hostname=HOST, headers=forged) as answer:
            assert answer.status == 404
            assert "handover_" not in await answer.text()
        internal = f"http://127.0.0.1:{prepared.ports['9180']}/metrics"
        async with client.get(internal) as answer:
            assert answer.status == 403, "nginx lets only the scraper in"
    async with running_nginx(prepared, tmp_path), browser(prepared, SCRAPER) as scraper:
        async with scraper.get(internal) as answer:
            assert answer.status == 200
            text = await answer.text()
    assert "handover_portal_downloads_total 1.0" in text
    assert 'handover_login_failures_total{action="login.failed"} 1.0' in text
