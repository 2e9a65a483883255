"""Disabling or re-inviting an account ends its open portal sessions and API tokens at once (C-10)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from exchange.identity import accounts, api_tokens, invitations
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal


async def _token(portal: Portal, login: str) -> str:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == login))).scalar_one()
        return api_tokens.create(session, account, "script", now=datetime.now(UTC))


async def test_disabling_ends_the_open_session_and_the_token(portal: Portal) -> None:
    await portal.login("a-handler")
    token = await _token(portal, "a-handler")
    assert (await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer {token}"})).status == 200
    async with portal.maker.begin() as session:
        account = await accounts.find(session, "a-handler")
        assert account is not None
        ended = await accounts.disable(
            session, account, accounts.Acting("区 山田"), now=datetime.now(UTC), reason="退職のため"
        )
    assert ended.sessions == 1 and ended.tokens == 1
    assert "ログインID" in await (await portal.client.get("/")).text()
    assert (await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer {token}"})).status == 401


async def test_reinviting_ends_the_open_session_and_the_token(portal: Portal) -> None:
    await portal.login("a-handler")
    token = await _token(portal, "a-handler")
    async with portal.maker.begin() as session:
        await invitations.invite(
            session, "a-handler", issuer="見本区", portal_url="https://portal.example/", now=datetime.now(UTC)
        )
    assert "ログインID" in await (await portal.client.get("/")).text()
    assert (await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer {token}"})).status == 401
