"""C-16: download limits per handler as well as per package, on the portal page and the API alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from exchange.identity import api_tokens
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal


async def _limit_per_handler(portal: Portal, limit: int) -> None:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        contract.download_limit_per_handler = limit


async def test_each_handler_has_own_limit_on_page_and_api(portal: Portal) -> None:
    await _limit_per_handler(portal, 2)
    package = portal.world.packages["main"]
    url = f"/packages/{package.public_id}/download"
    client = portal.client
    await portal.login("a-handler", client)
    assert (await client.get(url)).status == 200
    assert (await client.get(url)).status == 200
    refused = await client.get(url)
    text = await refused.text()
    assert refused.status == 403 and "取扱者ごとに2回" in text, text
    # The same person through the API is the same handler: no third copy there either.
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "a-handler"))).scalar_one()
        token = api_tokens.create(session, account, "連携", now=datetime.now(UTC))
    api = await client.get(
        f"/api/v1/packages/{package.public_id}/content", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status in (403, 409), await api.text()
    # Another designated person still has copies left under the package's own limit (10 here).
    await portal.login("a-manager", client)
    assert (await client.get(url)).status == 200
    async with portal.maker() as session:
        row = (await session.execute(select(Package).where(Package.public_id == package.public_id))).scalar_one()
        lines = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "package.downloaded"))
        ).scalars()
        texts = [line.decode() for line in lines]
    # Refused attempts are not counted against the package either.
    assert row.download_count == 3
    assert sum("取扱者ごとに2回目／上限2回" in t for t in texts) == 1
    assert sum("取扱者ごとに1回目／上限2回" in t for t in texts) == 2  # a-handler's first, a-manager's first


async def test_concurrent_requests_cannot_exceed_the_handler_limit(portal: Portal) -> None:
    await _limit_per_handler(portal, 2)
    package = portal.world.packages["main"]
    url = f"/packages/{package.public_id}/download"
    await portal.login("a-handler")
    statuses = await asyncio.gather(*(portal.client.get(url) for _ in range(6)))
    assert sorted(r.status for r in statuses).count(200) == 2
    async with portal.maker() as session:
        row = (await session.execute(select(Package).where(Package.public_id == package.public_id))).scalar_one()
    assert row.download_count == 2
