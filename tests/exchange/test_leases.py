"""Leases on rows (shared by the intake pipeline and the duties): claim, fence, release, and the heartbeat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from exchange.leases import Claim, Hold, LeaseLost, Leases, LeaseTable
from ledger.db import session_factory
from ledger.models.duties import DutyState

TABLE = LeaseTable(DutyState, DutyState.name, DutyState.lease_owner, DutyState.lease_until, DutyState.lease_generation)
START = datetime(2026, 9, 1, 1, tzinfo=UTC)


async def _row(sessions: async_sessionmaker[AsyncSession]) -> DutyState:
    async with sessions() as session:
        return (await session.execute(select(DutyState).where(DutyState.name == "probe"))).scalar_one()


async def test_one_holder_wins_and_the_release_commits_with_the_work(db_engine: AsyncEngine) -> None:
    sessions = session_factory(db_engine)
    async with sessions.begin() as session:
        session.add(DutyState(name="probe", next_due_at=START))
    first, second = (Leases(TABLE, holder, timedelta(minutes=1), lambda: START) for holder in ("a", "b"))
    async with sessions.begin() as session:
        claim = await first.claim(session, "probe", START, values={"last_started_at": START})
    assert claim == Claim("probe", "a", 1)
    async with sessions.begin() as session:
        assert await second.claim(session, "probe", START) is None
        assert not await second.renew(session, Claim("probe", "b", 1))
        with pytest.raises(LeaseLost):
            await second.release(session, Claim("probe", "b", 1))
    row = await _row(sessions)
    assert (row.lease_owner, row.last_started_at, row.lease_generation) == ("a", START, 1)
    # A release in a transaction that rolls back gives nothing back.
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await first.release(session, claim, values={"last_error": "x"})
            raise RuntimeError("the work failed before its commit")
    assert (await _row(sessions)).lease_owner == "a"
    hold = START + timedelta(minutes=15)
    async with sessions.begin() as session:
        await first.release(session, claim, hold_until=hold)
    row = await _row(sessions)
    assert (row.lease_owner, row.lease_until) == (None, hold)
    async with sessions.begin() as session:
        assert await second.claim(session, "probe", hold - timedelta(seconds=1)) is None
        assert await second.claim(session, "probe", hold + timedelta(seconds=1)) == Claim("probe", "b", 2)


async def test_a_lapsed_claim_is_fenced_off_even_under_the_same_holder_name(db_engine: AsyncEngine) -> None:
    """The generation, not the holder's name, tells a claim from the one that took the row over after it lapsed."""
    sessions = session_factory(db_engine)
    async with sessions.begin() as session:
        session.add(DutyState(name="probe", next_due_at=START))
    leases = Leases(TABLE, "worker-1", timedelta(minutes=1), lambda: START)
    async with sessions.begin() as session:
        lapsed = await leases.claim(session, "probe", START)
    async with sessions.begin() as session:
        current = await leases.claim(session, "probe", START + timedelta(minutes=2))
    assert lapsed is not None and current is not None and current.generation == lapsed.generation + 1
    with pytest.raises(LeaseLost):
        async with sessions.begin() as session:
            session.add(DutyState(name="written-by-the-lapsed-claim", next_due_at=START))
            await leases.fence(session, lapsed)
    async with sessions() as session:
        assert await session.scalar(select(DutyState.id).where(DutyState.name == "written-by-the-lapsed-claim")) is None
    async with sessions.begin() as session:
        await leases.fence(session, current)
        await leases.release(session, current)
    assert (await _row(sessions)).lease_owner is None


class FlakySessions:
    """Sessions whose next ``failures`` transactions fail to open, as a database away for a while would."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], failures: int) -> None:
        self.sessions = sessions
        self.failures = failures

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database away")
        async with self.sessions.begin() as session:
            yield session


async def _claimed(sessions: async_sessionmaker[AsyncSession], leases: Leases[str]) -> Claim[str]:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(DutyState(name="probe", next_due_at=now))
    async with sessions.begin() as session:
        claim = await leases.claim(session, "probe", now)
    assert claim is not None
    return claim


async def test_failed_renewals_are_retried_and_the_work_goes_on(
    db_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = session_factory(db_engine)
    leases = Leases(TABLE, "a", timedelta(seconds=3))
    claim = await _claimed(sessions, leases)
    flaky = FlakySessions(sessions, failures=2)  # a stand-in for the session factory, used by the heartbeat only

    async def work(held: Hold[str]) -> str:
        await asyncio.sleep(4.0)  # longer than the lease: only renewals keep it
        async with held.commit_phase(), sessions.begin() as session:
            await leases.release(session, held.claim, values={"last_error": "done"})
        return "committed"

    with caplog.at_level(logging.INFO, logger="exchange.leases"):
        assert await leases.hold(flaky, claim, work) == "committed"  # type: ignore[arg-type]
    assert flaky.failures == 0
    assert "renewal failed (ConnectionRefusedError, 2 in a row)" in caplog.text
    assert "renewed again after 2 failed attempts" in caplog.text
    row = await _row(sessions)
    assert (row.lease_owner, row.last_error) == (None, "done")


async def test_a_heartbeat_that_cannot_renew_in_time_stops_the_work_before_it_commits(
    db_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = session_factory(db_engine)
    lease = timedelta(seconds=1.2)
    leases = Leases(TABLE, "a", lease)
    claim = await _claimed(sessions, leases)
    flaky = FlakySessions(sessions, failures=1000)  # the database never comes back for the heartbeat
    reached: list[str] = []

    async def work(held: Hold[str]) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            reached.append("cancelled")
            raise
        async with held.commit_phase(), sessions.begin() as session:
            await leases.release(session, held.claim, values={"last_error": "must not commit"})

    started = asyncio.get_running_loop().time()
    with caplog.at_level(logging.WARNING, logger="exchange.leases"), pytest.raises(LeaseLost):
        await leases.hold(flaky, claim, work)  # type: ignore[arg-type]
    assert asyncio.get_running_loop().time() - started < lease.total_seconds()  # stopped before the lease ended
    assert reached == ["cancelled"]
    assert "not renewed before it ended; the step stops itself" in caplog.text
    row = await _row(sessions)
    assert (row.lease_owner, row.last_error) == ("a", None)


async def test_a_takeover_stops_the_work_at_the_next_beat(db_engine: AsyncEngine) -> None:
    sessions = session_factory(db_engine)
    leases = Leases(TABLE, "a", timedelta(seconds=0.9))
    claim = await _claimed(sessions, leases)
    async with sessions.begin() as session:  # as if the lease had lapsed and another holder claimed the row
        taken = await leases.named("b").claim(session, "probe", datetime.now(UTC) + timedelta(minutes=1))
    assert taken is not None and taken.generation == claim.generation + 1

    async def work(_held: Hold[str]) -> None:
        await asyncio.sleep(10)

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(leases.hold(sessions, claim, work), 2)
