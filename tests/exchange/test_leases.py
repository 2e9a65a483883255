"""Leases on rows (shared by the intake pipeline and the duties): claim, renew, release, and the heartbeat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from exchange.leases import Leases, LeaseTable
from ledger.db import session_factory
from ledger.models.duties import DutyState

TABLE = LeaseTable(DutyState, DutyState.name, DutyState.lease_owner, DutyState.lease_until)
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
        assert await first.claim(session, "probe", START, values={"last_started_at": START})
    async with sessions.begin() as session:
        assert not await second.claim(session, "probe", START)
        assert not await second.renew(session, "probe")
        assert not await second.release(session, "probe")
    row = await _row(sessions)
    assert (row.lease_owner, row.last_started_at) == ("a", START)
    # A release in a transaction that rolls back gives nothing back.
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            assert await first.release(session, "probe", values={"last_error": "x"})
            raise RuntimeError("the work failed before its commit")
    assert (await _row(sessions)).lease_owner == "a"
    hold = START + timedelta(minutes=15)
    async with sessions.begin() as session:
        assert await first.release(session, "probe", hold_until=hold)
    row = await _row(sessions)
    assert (row.lease_owner, row.lease_until) == (None, hold)
    async with sessions.begin() as session:
        assert not await second.claim(session, "probe", hold - timedelta(seconds=1))
        assert await second.claim(session, "probe", hold + timedelta(seconds=1))


class FlakySessions:
    """Sessions whose first transaction fails to open, as a database away for one heartbeat would."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.failures = 1

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database away")
        async with self.sessions.begin() as session:
            yield session


async def test_the_heartbeat_renews_and_survives_a_failed_renewal(
    db_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = session_factory(db_engine)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(DutyState(name="probe", next_due_at=now))
    leases = Leases(TABLE, "a", timedelta(seconds=0.6))
    async with sessions.begin() as session:
        assert await leases.claim(session, "probe", now)
    claimed_until = (await _row(sessions)).lease_until
    assert claimed_until is not None
    flaky = FlakySessions(sessions)
    with caplog.at_level(logging.WARNING, logger="exchange.leases"):
        async with leases.heartbeat(flaky, "probe"):  # a stand-in for the session factory
            await asyncio.sleep(1.0)  # beats every 0.2 s: the first fails, the next ones renew
    assert flaky.failures == 0
    assert "renewal failed (ConnectionRefusedError)" in caplog.text
    renewed_until = (await _row(sessions)).lease_until
    assert renewed_until is not None and renewed_until > claimed_until
