"""Leases on database rows: how several hub processes share work without a coordinator.

Used by the intake pipeline (a lease on an ``intake_files`` row while one of its steps runs) and by the
scheduled duties (a lease on a ``duty_states`` row while the duty runs). It lives here, beside the other
modules that more than one capability uses, rather than inside either user, so that neither imports the other.

A row is leased when its ``lease_owner`` names a holder and its ``lease_until`` lies in the future. A claim is one
conditional ``UPDATE … WHERE <key> AND (lease_until IS NULL OR lease_until < now)``: on PostgreSQL a concurrent
UPDATE of the same row waits and then re-checks the condition, on SQLite writers are serialised, so exactly one
holder wins. Every claim also increments ``lease_generation``; the returned ``Claim`` carries it.

Fencing: a holder whose lease lapsed (a stalled disk, a locked database) may still be running when the next claim
takes the row over. So every write a holder commits goes with ``fence`` or ``release`` — ``UPDATE … WHERE <key> AND
lease_owner = me AND lease_generation = mine`` — in the same transaction; when it matches no row the claim is gone
and the transaction is rolled back (``LeaseLost``). The UPDATE also locks the row until the commit, so no claim can
slip in between the check and the commit on either database.

While the work runs, ``hold`` renews the lease every third of its duration (retrying a failed renewal after a short
back-off). When the lease is taken over, or cannot be renewed before it ends, the work task is cancelled and
``LeaseLost`` is raised, unless the work has already entered its fenced commit (the fence then decides).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ledger.models.base import Base, utcnow

log = logging.getLogger(__name__)

K = TypeVar("K")
T = TypeVar("T")

FIRST_RETRY_SECONDS = 0.2  # a failed renewal is tried again soon: the lease may be short
# The holder stops itself this share of a lease before its lease ends, so that it has stopped before any other
# holder may claim (clocks of several hosts and the time a cancellation takes are never exact).
SAFETY_SHARE = 0.1


@dataclass(frozen=True)
class LeaseTable(Generic[K]):
    """A table whose rows are leased: the mapped class, its key column and its three lease columns."""

    model: type[Base]
    key: InstrumentedAttribute[K]
    owner: InstrumentedAttribute[str | None]
    until: InstrumentedAttribute[datetime | None]
    generation: InstrumentedAttribute[int]


@dataclass(frozen=True)
class Claim(Generic[K]):
    """One won claim: the row, its holder and the generation it was won at (what every commit is fenced on)."""

    key: K
    holder: str
    generation: int


class LeaseLost(Exception):
    """The claim is no longer held (taken over, or not renewed in time): the work must not commit."""


def is_free(lease_until: datetime | None, now: datetime) -> bool:
    """The claim condition, for a row already read (a cheap look before trying to claim)."""
    return lease_until is None or lease_until < now


@dataclass
class Hold(Generic[K]):
    """A claim while its work runs; ``committing`` tells the heartbeat to leave the decision to the fence."""

    claim: Claim[K]
    committing: bool = False
    released: bool = False  # set by the work once its releasing commit went through: nothing is left to renew
    _lost: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @asynccontextmanager
    async def commit_phase(self) -> AsyncIterator[None]:
        """The fenced writes and their commit: never cancelled half-way by the heartbeat (a commit that may or
        may not have happened would leave the work's files in doubt)."""
        if self._lost.is_set():
            raise LeaseLost("the lease was lost before the commit")
        self.committing = True
        try:
            yield
        finally:
            self.committing = False


@dataclass(frozen=True)
class Leases(Generic[K]):
    """One holder's leases on the rows of one table."""

    table: LeaseTable[K]
    holder: str
    duration: timedelta
    clock: Callable[[], datetime] = utcnow

    def named(self, holder: str) -> Leases[K]:
        """The same leases for another holder (each worker task has its own)."""
        return replace(self, holder=holder)

    def free(self, now: datetime) -> ColumnElement[bool]:
        """The claim condition as SQL, for queries that look for claimable rows."""
        return or_(self.table.until.is_(None), self.table.until < now)

    def _held(self, claim: Claim[K]) -> tuple[ColumnElement[bool], ...]:
        return (
            self.table.key == claim.key,
            self.table.owner == claim.holder,
            self.table.generation == claim.generation,
        )

    async def claim(
        self,
        session: AsyncSession,
        key: K,
        now: datetime,
        *,
        where: Iterable[ColumnElement[bool]] = (),
        values: Mapping[str, Any] | None = None,
    ) -> Claim[K] | None:
        """Take the lease on row ``key`` if it is free (and ``where`` holds); also set ``values`` on a win."""
        generation = (
            await session.execute(
                update(self.table.model)
                .where(self.table.key == key, self.free(now), *where)
                .values(
                    {
                        self.table.owner: self.holder,
                        self.table.until: now + self.duration,
                        self.table.generation: self.table.generation + 1,
                        **(values or {}),
                    }
                )
                .returning(self.table.generation)
            )
        ).scalar_one_or_none()
        return None if generation is None else Claim(key, self.holder, generation)

    async def renew(self, session: AsyncSession, claim: Claim[K]) -> bool:
        """Push the lease one duration from now; False when this claim no longer holds it."""
        renewed = await session.execute(
            update(self.table.model).where(*self._held(claim)).values({self.table.until: self.clock() + self.duration})
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    async def fence(self, session: AsyncSession, claim: Claim[K]) -> None:
        """Check, in the caller's transaction, that ``claim`` still holds the row (renewing it); else LeaseLost.

        The caller's transaction must then be rolled back: nothing it wrote may commit.
        """
        if not await self.renew(session, claim):
            raise LeaseLost(f"{self.table.model.__tablename__} {claim.key}: claim {claim.generation} was taken over")

    async def release(
        self,
        session: AsyncSession,
        claim: Claim[K],
        *,
        hold_until: datetime | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Give the row back (and set ``values``) in the caller's transaction, so it commits with the work.

        This is the fence of the work's last commit: LeaseLost when the claim no longer holds the row (the caller
        rolls back). ``hold_until`` keeps every holder off the row until then (a failed duty waits before its retry).
        """
        released = await session.execute(
            update(self.table.model)
            .where(*self._held(claim))
            .values({self.table.owner: None, self.table.until: hold_until, **(values or {})})
        )
        if released.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"{self.table.model.__tablename__} {claim.key}: claim {claim.generation} was taken over")

    async def hold(
        self, sessions: async_sessionmaker[AsyncSession], claim: Claim[K], work: Callable[[Hold[K]], Awaitable[T]]
    ) -> T:
        """Run ``work`` while a heartbeat renews the claim; cancel it and raise LeaseLost when the claim is lost."""
        held = Hold(claim)
        step = asyncio.ensure_future(work(held))
        beating = asyncio.create_task(self._beat(sessions, held))
        try:
            await asyncio.wait({step, beating}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done() and not held.released:
                # The heartbeat ended first: the claim is lost. The step may be inside its fenced commit, where
                # the fence decides; only a step outside it (and not past its releasing commit) is cancelled.
                held._lost.set()
                while held.committing and not step.done():
                    await asyncio.wait({step}, timeout=0.05)
                if not step.done() and not held.released:
                    step.cancel()
                    await asyncio.gather(step, return_exceptions=True)
                    raise LeaseLost(f"{self.table.model.__tablename__} {claim.key}: the step was stopped")
            await asyncio.wait({step})
            return step.result()
        finally:
            for task in (step, beating):
                task.cancel()
            await asyncio.gather(step, beating, return_exceptions=True)

    async def _beat(self, sessions: async_sessionmaker[AsyncSession], held: Hold[K]) -> None:
        """Renew until the claim is lost; return then (the caller stops the work)."""
        loop = asyncio.get_running_loop()
        lease = self.duration.total_seconds()
        interval = lease / 3
        # The lease was set when it was claimed, a moment before the work started; count from now, minus a margin.
        deadline = loop.time() + lease * (1 - SAFETY_SHARE)
        failures = 0
        name, key = self.table.model.__tablename__, held.claim.key
        while True:
            wait = interval if failures == 0 else min(FIRST_RETRY_SECONDS * 2 ** (failures - 1), interval)
            await asyncio.sleep(max(min(wait, deadline - loop.time()), 0))
            if held.released:
                await asyncio.Event().wait()  # the work gave the row back and is finishing: wait to be cancelled
            sent = loop.time()
            if sent >= deadline:
                log.warning("lease on %s %s: not renewed before it ended; the step stops itself", name, key)
                return
            try:
                # A renewal that waits for a lock past the lease's end is as good as a failed one.
                async with asyncio.timeout(deadline - sent):
                    async with sessions.begin() as session:
                        renewed = await self.renew(session, held.claim)
                        generation = None if renewed else await self._generation(session, key)
            except Exception as exc:  # a database that is away for one beat must not end the heartbeat
                failures += 1
                log.warning(
                    "lease on %s %s: renewal failed (%s, %d in a row); trying again shortly",
                    name,
                    key,
                    type(exc).__name__,
                    failures,
                )
                continue
            if not renewed:
                if held.released or generation == held.claim.generation:
                    # Released by the work's own commit, which is finishing: nothing is left to renew.
                    await asyncio.Event().wait()
                log.warning("lease on %s %s: taken over by a later claim; the step stops itself", name, key)
                return
            if failures:
                log.info("lease on %s %s: renewed again after %d failed attempts", name, key, failures)
            failures = 0
            deadline = sent + lease * (1 - SAFETY_SHARE)

    async def _generation(self, session: AsyncSession, key: K) -> int | None:
        found = await session.execute(select(self.table.generation).where(self.table.key == key))
        return found.scalar_one_or_none()
