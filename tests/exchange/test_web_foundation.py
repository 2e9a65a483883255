"""Health check, login with the one-time password, and the landing page listing contracts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pyotp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.identity.accounts import create_admin
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from tests.exchange.web.portal import CSRF, csrf_of
from tests.factories import keyring, load_demo


async def client_with_demo(
    db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[TestClient, str]:
    maker = session_factory(db_engine)
    async with maker.begin() as session:
        await load_demo(session, tmp_path)
        password = await create_admin(session)
    assert password is not None
    ring = await asyncio.to_thread(keyring, tmp_path)
    return await aiohttp_client(create_app(maker, deps=PortalDeps(keyring=ring))), password


async def first_login(client: TestClient, password: str) -> ClientResponse:
    """The one-time password only opens the setup page: a new password and a TOTP factor come first."""
    response = await client.post(
        "/login",
        data={"login": "admin", "password": password, "csrf_token": await csrf_of(client, "/login")},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/login/setup"
    page = await (await client.get("/login/setup")).text()
    secret, csrf = re.search(r'id="totp-secret">([^<]+)<', page), CSRF.search(page)
    assert secret and csrf
    new = "a new pass phrase for the hub"
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    data = {"csrf_token": csrf.group(1), "password": new, "password_confirm": new, "code": code}
    return await client.post("/login/setup", data=data, allow_redirects=False)


async def test_healthz_reports_database(db_engine: AsyncEngine, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(session_factory(db_engine)))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "ok",
        "components": {},
        "roles": ["web", "worker", "scheduler"],
    }
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_login_then_landing_lists_demo_contracts(
    db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client, password = await client_with_demo(db_engine, aiohttp_client, tmp_path)
    before = await client.get("/")
    assert "ログイン" in await before.text()
    assert "生活保護追加給付" not in await before.text()
    wrong = await client.post(
        "/login", data={"login": "admin", "password": "wrong", "csrf_token": await csrf_of(client, "/login")}
    )
    assert wrong.status == 401
    response = await first_login(client, password)
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.cookies["handover_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = await (await client.get("/")).text()
    assert "生活保護追加給付 通知書印刷・封入封緘（再委託）" in page
    assert "令和8年3月1日" in page


async def test_logout_needs_csrf_token(db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    client, password = await client_with_demo(db_engine, aiohttp_client, tmp_path)
    await first_login(client, password)
    forged = await client.post("/logout", data={"csrf_token": "guess"})
    assert forged.status == 403
    assert "生活保護" in await (await client.get("/")).text()
