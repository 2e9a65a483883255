"""Sub-contract approvals on the staff pages (C-06): typed in Japan time whatever the server's zone, revocable,
and a revoked approval stops data for the sub-contractor."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from exchange.contract_facts import contract_facts
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from policies.rules import PolicyRefusal, check_subcontract_chain
from tests.exchange.web.portal import Portal


@pytest.fixture(params=["UTC", "America/New_York"])
def host_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The hub process in the server's zone ``UTC`` (LGWAN hosts) or far from Japan; nothing may depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


async def _contract(portal: Portal, code: str) -> Contract:
    async with portal.maker() as session:
        return (await session.execute(select(Contract).where(Contract.code == code))).scalar_one()


async def _register(portal: Portal, kind: str) -> list[dict[str, object]]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [json.loads(row)["data"] for row in rows]


async def test_approval_time_typed_in_the_portal_is_japan_time(portal: Portal, host_zone: str) -> None:
    sub = portal.world.contracts["sub"]
    csrf = await portal.login("staff-same")
    answer = await portal.client.post(
        f"/staff/contracts/{sub.public_id}/approval",
        data={
            "csrf_token": csrf,
            "approved_by": "生活福祉課長",
            "approval_ref": "見福第99号",
            "approved_at": "2026-12-02T10:00",
        },
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    stored = await _contract(portal, "sub")
    assert stored.approved_at == datetime(2026, 12, 2, 1, 0, tzinfo=UTC), f"10:00 JST on a {host_zone} host"
    shown = await (await portal.client.get(f"/staff/contracts/{sub.public_id}")).text()
    assert "2026-12-02 10:00" in shown
    [line] = await _register(portal, "subcontract.approved")
    assert "2026-12-02 10:00" in str(line["content"])
    # Deliveries are allowed from 10:00 JST, not from 19:00 JST as a UTC host made of it.
    async with portal.maker() as session:
        facts = await contract_facts(session, stored)
    check_subcontract_chain(facts, datetime(2026, 12, 2, 1, 30, tzinfo=UTC))


async def test_bad_approval_time_is_refused_in_japanese(portal: Portal) -> None:
    sub = portal.world.contracts["sub"]
    csrf = await portal.login("staff-same")
    answer = await portal.client.post(
        f"/staff/contracts/{sub.public_id}/approval",
        data={"csrf_token": csrf, "approved_by": "課長", "approval_ref": "1", "approved_at": "12/02 10時"},
    )
    assert answer.status == 400 and "日本時間" in await answer.text()


async def test_revoked_approval_is_recorded_and_stops_data(portal: Portal) -> None:
    sub = portal.world.contracts["sub"]
    csrf = await portal.login("staff-same")
    page = await (await portal.client.get(f"/staff/contracts/{sub.public_id}")).text()
    assert f"/staff/contracts/{sub.public_id}/approval/revoke" in page
    url = f"/staff/contracts/{sub.public_id}/approval/revoke"
    empty = await portal.client.post(url, data={"csrf_token": csrf, "reason": " "})
    assert empty.status == 400 and "理由" in await empty.text()
    other = await portal.login("staff-other")  # another section's staff may not revoke it
    assert (await portal.client.post(url, data={"csrf_token": other, "reason": "x"})).status in {403, 404}

    csrf = await portal.login("staff-same")
    answer = await portal.client.post(url, data={"csrf_token": csrf, "reason": "監査で不備"}, allow_redirects=False)
    assert answer.status == 303, await answer.text()
    stored = await _contract(portal, "sub")
    assert stored.approval_revoked_at is not None
    [line] = await _register(portal, "subcontract.revoked")
    assert line["handler_from"] == "staff-same 様（staff-same）" and "監査で不備" in str(line["content"])
    shown = await (await portal.client.get(f"/staff/contracts/{sub.public_id}")).text()
    assert "取消し" in shown and "データを提供できません" in shown
    again = await portal.client.post(url, data={"csrf_token": csrf, "reason": "二度目"})
    assert again.status == 400 and "取り消し済み" in await again.text()

    async with portal.maker() as session:
        facts = await contract_facts(session, stored)
    with pytest.raises(PolicyRefusal, match="取り消されています"):
        check_subcontract_chain(facts, datetime.now(UTC))
    await portal.login("b-handler")
    package = portal.world.packages["sub"]
    assert (await portal.client.get(f"/packages/{package.public_id}/download")).status in {403, 404}
