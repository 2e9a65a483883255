"""The accounts page (C-10): staff and the admin cut an account off from the portal, within their scope."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from exchange.identity import api_tokens
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.audit import AuditEvent
from ledger.models.identity import ApiToken
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal


@pytest.fixture
async def other(portal: Portal) -> AsyncIterator[TestClient]:
    """A second browser, on another hub process sharing the database (the contractor's own)."""
    app = create_app(portal.maker, deps=PortalDeps(keyring=portal.world.keyring))
    async with TestClient(TestServer(app)) as client:
        yield client


async def _account(portal: Portal, login: str) -> Account:
    async with portal.maker() as session:
        return (await session.execute(select(Account).where(Account.login == login))).scalar_one()


async def _token(portal: Portal, login: str) -> str:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == login))).scalar_one()
        return api_tokens.create(session, account, "連携スクリプト", now=datetime.now(UTC))


async def _api(client: TestClient, token: str) -> int:
    return (await client.get("/api/v1/packages", headers={"Authorization": f"Bearer {token}"})).status


async def _audited(portal: Portal, action: str, outcome: str) -> int:
    async with portal.maker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.outcome == outcome)
        )
    return int(count or 0)


async def test_admin_disables_a_contractor_from_the_page_and_enables_again(portal: Portal, other: TestClient) -> None:
    await portal.login("a-handler", other)
    token = await _token(portal, "a-handler")
    assert await _api(other, token) == 200
    target = (await _account(portal, "a-handler")).public_id

    csrf = await portal.login("admin")
    listing = await (await portal.client.get("/accounts")).text()
    assert f'href="/accounts/{target}"' in listing and "有効" in listing
    detail = await (await portal.client.get(f"/accounts/{target}")).text()
    assert 'id="account-sessions">1<' in detail and "連携スクリプト" in detail
    assert 'aria-label="a-handler 様（a-handler）を停止する"' in detail

    response = await portal.client.post(
        f"/accounts/{target}/disable", data={"csrf_token": csrf, "reason": "退職のため"}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    # The contractor's open browser is signed out and the script's token no longer works.
    assert "ログインID" in await (await other.get("/")).text()
    assert await _api(other, token) == 401
    assert (await portal.post_login("a-handler", client=other)).status != 303
    detail = await (await portal.client.get(f"/accounts/{target}")).text()
    assert 'id="account-status">無効<' in detail
    assert await _audited(portal, "account.disable", "allowed") == 1

    response = await portal.client.post(f"/accounts/{target}/enable", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    await portal.login("a-handler", other)  # signs in again (asserts the redirect)
    assert await _api(other, token) == 401  # revoked tokens stay revoked


async def test_admin_revokes_one_token_and_ends_sessions(portal: Portal, other: TestClient) -> None:
    await portal.login("a-handler", other)
    token = await _token(portal, "a-handler")
    target = (await _account(portal, "a-handler")).public_id
    async with portal.maker() as session:
        token_id = (await session.execute(select(ApiToken.public_id))).scalar_one()
    csrf = await portal.login("admin")
    revoke = f"/accounts/{target}/tokens/{token_id}/revoke"
    assert (await portal.client.post(revoke, data={"csrf_token": "guess"})).status == 403
    assert await _api(other, token) == 200
    assert (await portal.client.post(revoke, data={"csrf_token": csrf}, allow_redirects=False)).status == 303
    assert await _api(other, token) == 401
    assert "ログインID" not in await (await other.get("/")).text()
    ended = await portal.client.post(
        f"/accounts/{target}/end-sessions", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert ended.status == 303
    assert "ログインID" in await (await other.get("/")).text()


async def test_staff_act_only_within_their_section(portal: Portal, other: TestClient) -> None:
    await portal.login("a-handler", other)
    target = (await _account(portal, "a-handler")).public_id
    csrf = await portal.login("staff-other")  # 介護保険課: a-handler is designated on a 生活福祉課 contract only
    assert target not in await (await portal.client.get("/accounts")).text()
    for path in ("disable", "end-sessions"):
        response = await portal.client.post(
            f"/accounts/{target}/{path}", data={"csrf_token": csrf, "reason": "退職のため"}, allow_redirects=False
        )
        assert response.status in (403, 404)  # out of scope is answered as unknown (not found)
    assert (await portal.client.get(f"/accounts/{target}")).status == 404
    assert "ログインID" not in await (await other.get("/")).text()
    assert (await _account(portal, "a-handler")).disabled_at is None
    assert await _audited(portal, "account.disable", "denied") == 1

    csrf = await portal.login("staff-same")
    listing = await (await portal.client.get("/accounts")).text()
    assert target in listing and "staff-other" not in listing and "admin" not in re.sub(r"<[^>]+>", "", listing)
    response = await portal.client.post(
        f"/accounts/{target}/disable", data={"csrf_token": csrf, "reason": "PC紛失"}, allow_redirects=False
    )
    assert response.status == 303
    assert (await _account(portal, "a-handler")).disabled_at is not None


@pytest.mark.parametrize("login", ["a-manager", "compliance"])
async def test_contractor_and_compliance_cannot_change_accounts(portal: Portal, login: str) -> None:
    target = (await _account(portal, "a-handler")).public_id
    csrf = await portal.login(login)
    for path in ("disable", "enable", "unlock", "end-sessions"):
        response = await portal.client.post(
            f"/accounts/{target}/{path}", data={"csrf_token": csrf, "reason": "退職のため"}, allow_redirects=False
        )
        assert response.status == (403 if login == "compliance" else 404), path
    assert (await _account(portal, "a-handler")).disabled_at is None
    listing = await portal.client.get("/accounts")
    if login == "compliance":
        text = await listing.text()
        assert listing.status == 200 and target in text and "停止する" not in text
        detail = await (await portal.client.get(f"/accounts/{target}")).text()
        assert "停止する" not in detail and "失効させる" not in detail
    else:
        assert listing.status == 404


async def test_admin_unlocks_a_locked_account_from_the_page(portal: Portal, other: TestClient) -> None:
    target = (await _account(portal, "a-handler")).public_id
    for _ in range(5):
        assert (await portal.post_login("a-handler", "wrong", client=other)).status == 401
    assert (await portal.post_login("a-handler", client=other)).status == 429
    csrf = await portal.login("admin")
    detail = await (await portal.client.get(f"/accounts/{target}")).text()
    assert 'id="account-status">ロック中<' in detail
    assert 'aria-label="a-handler 様（a-handler）のログイン制限を解除する"' in detail
    response = await portal.client.post(f"/accounts/{target}/unlock", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    await portal.login("a-handler", other)
    assert await _audited(portal, "account.unlock", "allowed") == 1
