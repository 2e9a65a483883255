"""Health check, login with the one-time password, and the landing page listing contracts."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.accounts import create_admin
from exchange.admin_import import import_files
from exchange.web.app import create_app
from ledger.db import session_factory

DEMO = sorted((Path(__file__).parents[2] / "config" / "demo").glob("*.toml"))


async def client_with_demo(
    db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[TestClient, str]:
    maker = session_factory(db_engine)
    async with maker.begin() as session:
        await import_files(session, DEMO, base_dir=tmp_path)
        password = await create_admin(session)
    assert password is not None
    return await aiohttp_client(create_app(maker)), password


async def test_healthz_reports_database(db_engine: AsyncEngine, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(session_factory(db_engine)))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_login_then_landing_lists_demo_contracts(
    db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    client, password = await client_with_demo(db_engine, aiohttp_client, tmp_path)
    before = await client.get("/")
    assert "ログイン" in await before.text()
    assert "生活保護追加給付" not in await before.text()
    wrong = await client.post("/login", data={"login": "admin", "password": "wrong"})
    assert wrong.status == 401
    response = await client.post("/login", data={"login": "admin", "password": password}, allow_redirects=False)
    assert response.status == 303
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    page = await (await client.get("/")).text()
    assert "生活保護追加給付 通知書印刷・封入封緘（再委託）" in page
    assert "令和8年3月1日" in page


async def test_logout_needs_csrf_token(db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    client, password = await client_with_demo(db_engine, aiohttp_client, tmp_path)
    await client.post("/login", data={"login": "admin", "password": password})
    forged = await client.post("/logout", data={"csrf_token": "guess"})
    assert forged.status == 403
    assert "生活保護" in await (await client.get("/")).text()
