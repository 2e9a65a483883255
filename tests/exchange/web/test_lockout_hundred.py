"""Issue 13: after 100 wrong passwords (or bad API tokens) the right one gets the lockout answer, never a 500.

Attempts during a lock are refused without being counted, so 100 attempts in a row count only five; counters of
100 and far beyond (as months of attempts would leave them) are therefore also written directly, the last lock
over, before the attempts that must be answered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select, update

from exchange.identity import api_tokens, lockout
from ledger.models.identity import LoginThrottle
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal

WRONG = 100
LOCKED_JA = "一時的にログインできません"


async def test_the_hundredth_counted_failure_then_the_right_one_is_a_lockout(portal: Portal) -> None:
    """99 failures already counted (the last lock over): the 100th is counted, and the right one is refused."""
    await portal.post_login("staff-same", "wrong")
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with portal.maker.begin() as session:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.bucket.like("account:%"))
            .values(failures=WRONG - 1, last_failure_at=past, locked_until=past)
        )
    assert (await portal.post_login("staff-same", "wrong")).status == 401
    async with portal.maker() as session:
        account = (await session.execute(select(Account).where(Account.login == "staff-same"))).scalar_one()
        assert (await lockout.account_state(session, account.id))[0] == WRONG
    right = await portal.post_login("staff-same")
    assert right.status == 429 and LOCKED_JA in await right.text()


async def test_hundred_wrong_passwords_in_a_row_then_the_right_one(portal: Portal) -> None:
    statuses = [(await portal.post_login("staff-same", "wrong")).status for _ in range(WRONG)]
    assert set(statuses) <= {401, 429} and statuses.count(401) == lockout.ACCOUNT_RULE.threshold
    right = await portal.post_login("staff-same")
    assert right.status == 429 and LOCKED_JA in await right.text()


async def test_huge_counters_answer_with_a_lockout_not_a_500(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "a-handler"))).scalar_one()
        token = api_tokens.create(session, account, "連携", now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    # Create the buckets, then push them far past any exponent, with the last lock already over.
    await portal.post_login("a-handler", "wrong")
    await portal.client.get("/api/v1/packages", headers={"Authorization": "Bearer hvr_stale"})
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with portal.maker.begin() as session:
        await session.execute(update(LoginThrottle).values(failures=10**6, last_failure_at=past, locked_until=past))
    wrong = await portal.post_login("a-handler", "wrong")
    assert wrong.status in (401, 429)
    right = await portal.post_login("a-handler")
    assert right.status == 429 and LOCKED_JA in await right.text()
    stale = await portal.client.get("/api/v1/packages", headers={"Authorization": "Bearer hvr_stale"})
    assert stale.status in (401, 429)
    good = await portal.client.get("/api/v1/packages", headers=headers)
    assert good.status == 429 and "一時的に利用できません" in await good.text()


async def test_hundred_bad_api_tokens_then_a_good_one_is_a_lockout(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "a-handler"))).scalar_one()
        token = api_tokens.create(session, account, "連携", now=datetime.now(UTC))
    now = datetime.now(UTC)
    for n in range(WRONG):
        with time_machine.travel(now, tick=False):
            response = await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer hvr_bad{n}"})
        assert response.status in (401, 429)
    with time_machine.travel(now, tick=False):
        good = await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer {token}"})
    assert good.status == 429 and "一時的に利用できません" in await good.text()
