"""Leases on database rows: how several hub processes share work without a coordinator.

Used by the intake pipeline (a lease on an ``intake_files`` row while one of its steps runs) and by the
scheduled duties (a lease on a ``duty_states`` row while the duty runs). It lives here, beside the other
modules that more than one capability uses, rather than inside either user, so that neither imports the other.

A row is leased when its ``lease_owner`` names a holder and its ``lease_until`` lies in the future. A claim is one
conditional ``UPDATE … WHERE <key> AND (lease_until IS NULL OR lease_until < now)``: on PostgreSQL a concurrent
UPDATE of the same row waits and then re-checks the condition, on SQLite writers are serialised, so exactly one
holder wins. While the work runs, ``heartbeat`` renews the lease every third of its duration, so only a holder
that died (or cannot reach the database for a whole lease) loses it; the work is then taken over by the next
claim, which is why every leased step is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ledger.models.base import Base, utcnow

log = logging.getLogger(__name__)

K = TypeVar("K")


@dataclass(frozen=True)
class LeaseTable(Generic[K]):
    """A table whose rows are leased: the mapped class, its key column and its two lease columns."""

    model: type[Base]
    key: InstrumentedAttribute[K]
    owner: InstrumentedAttribute[str | None]
    until: InstrumentedAttribute[datetime | None]


def is_free(lease_until: datetime | None, now: datetime) -> bool:
    """The claim condition, for a row already read (a cheap look before trying to claim)."""
    return lease_until is None or lease_until < now


@dataclass(frozen=True)
class Leases(Generic[K]):
    """One holder's leases on the rows of one table."""

    table: LeaseTable[K]
    holder: str
    duration: timedelta
    clock: Callable[[], datetime] = utcnow

    def free(self, now: datetime) -> ColumnElement[bool]:
        """The claim condition as SQL, for queries that look for claimable rows."""
        return or_(self.table.until.is_(None), self.table.until < now)

    async def claim(
        self,
        session: AsyncSession,
        key: K,
        now: datetime,
        *,
        where: Iterable[ColumnElement[bool]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Take the lease on row ``key`` if it is free (and ``where`` holds); also set ``values`` on a win."""
        claimed = await session.execute(
            update(self.table.model)
            .where(self.table.key == key, self.free(now), *where)
            .values({self.table.owner: self.holder, self.table.until: now + self.duration, **(values or {})})
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def renew(self, session: AsyncSession, key: K) -> bool:
        """Push the lease on row ``key`` one duration from now; False when this holder no longer has it."""
        renewed = await session.execute(
            update(self.table.model)
            .where(self.table.key == key, self.table.owner == self.holder)
            .values({self.table.until: self.clock() + self.duration})
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    async def release(
        self,
        session: AsyncSession,
        key: K,
        *,
        hold_until: datetime | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Give row ``key`` back (and set ``values``) in the caller's transaction, so it commits with the work.

        ``hold_until`` keeps every holder off the row until then (a failed duty waits before its retry).
        """
        released = await session.execute(
            update(self.table.model)
            .where(self.table.key == key, self.table.owner == self.holder)
            .values({self.table.owner: None, self.table.until: hold_until, **(values or {})})
        )
        return bool(released.rowcount == 1)  # type: ignore[attr-defined]

    @asynccontextmanager
    async def heartbeat(self, sessions: async_sessionmaker[AsyncSession], key: K) -> AsyncIterator[None]:
        """Renew the lease on row ``key`` while the body runs."""
        beating = asyncio.create_task(self._beat(sessions, key))
        try:
            yield
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _beat(self, sessions: async_sessionmaker[AsyncSession], key: K) -> None:
        interval = self.duration.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with sessions.begin() as session:
                    renewed = await self.renew(session, key)
            except Exception as exc:  # a database that is away for one beat must not end the heartbeat
                log.warning(
                    "lease on %s %s: renewal failed (%s); trying again in %.0f s",
                    self.table.model.__tablename__,
                    key,
                    type(exc).__name__,
                    interval,
                )
                continue
            if not renewed:
                # Released by the work itself, or taken over after it lapsed: nothing is left to renew.
                return
