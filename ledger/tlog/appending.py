"""Appending to the ledger: one entry or several in the caller's transaction, or group commit (``Appender``).

An entry's bytes are the canonical JSON (``ledger.canonical``) of ``{"at": UTC timestamp, "contract_id":
str|null, "data": {...payload}, "kind": str, "package_id": str|null}``. ``append`` runs inside the caller's
transaction, so a business change and its ledger entry commit (or roll back) together.

Indices are handed out one writer at a time: on PostgreSQL a transaction-scoped advisory lock is taken before
the current size is read; on SQLite the first INSERT computes ``max(idx) + 1`` itself, so the database's single
write lock is taken before the size is read. Either way the lock is held until the caller commits, so a
committed log never has gaps. ``Appender`` batches events from concurrent callers into one transaction when
throughput matters more than committing together with a business change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from ledger.canonical import canonical_entry
from ledger.models.base import utcnow
from ledger.tlog import tiles
from ledger.tlog.merkle import leaf_hash
from ledger.tlog.store import entries

# Arbitrary, but fixed forever: every hub process must contend for the same advisory lock ("ledg" + 1).
ADVISORY_LOCK_KEY = 0x6C656467_00000001

# Built once so that SQLAlchemy's compiled-statement cache is hit without recomputing cache keys per append.
_LOCK = select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY))
_NEXT_IDX = select(func.coalesce(func.max(entries.c.idx), -1) + 1).scalar_subquery()
_INSERT_FIRST = insert(entries).values(idx=_NEXT_IDX).returning(entries.c.idx)


@dataclass(frozen=True)
class Event:
    kind: str
    payload: Mapping[str, object]
    contract_id: str | None = None
    package_id: str | None = None
    at: datetime | None = None

    def row(self) -> dict[str, Any]:
        """The row for this event, without its index; canonicalisation errors surface here, early."""
        if len(self.kind) > 64 or len(self.contract_id or "") > 36 or len(self.package_id or "") > 36:
            raise ValueError("kind is limited to 64 characters, contract_id and package_id to 36")
        entry = canonical_entry(
            self.kind,
            self.at or utcnow(),
            self.payload,
            contract_id=self.contract_id,
            package_id=self.package_id,
        )
        return {
            "entry": entry,
            "leaf_hash": leaf_hash(entry),
            "kind": self.kind,
            "contract_id": self.contract_id,
            "package_id": self.package_id,
            "recorded_at": utcnow(),
        }


async def append(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, object],
    *,
    contract_id: str | None = None,
    package_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Add one entry in the session's transaction and return its leaf index."""
    event = Event(kind, payload, contract_id, package_id, at)
    return (await _insert(session, [event.row()]))[0]


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK)
    start: int = (await session.execute(_INSERT_FIRST, rows[0])).scalar_one()
    if len(rows) > 1:
        await session.execute(insert(entries), [{"idx": start + i, **row} for i, row in enumerate(rows)][1:])
    await tiles.record_leaves(session, start, [row["leaf_hash"] for row in rows])
    return list(range(start, start + len(rows)))


class Appender:
    """Group commit: events from concurrent callers are written in shared transactions.

    While one batch commits, new events queue up; the next transaction takes them all (up to ``max_batch``).
    Each caller's ``append`` returns once its entry is committed. Use it for events that need not commit
    together with a business change (access logs, deliveries recorded after the fact); otherwise call
    :func:`append` on the business transaction's session. The writer keeps one connection, which saves the
    pool's checkout ping and reset on every batch.
    """

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 1000) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def append(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        contract_id: str | None = None,
        package_id: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Queue one entry and return its index once committed."""
        if self._closing:
            raise RuntimeError("appender is closed")
        row = Event(kind, payload, contract_id, package_id, at).row()
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((row, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        self._wake.set()
        return await done

    async def _write(self) -> None:
        connection: AsyncConnection | None = None
        try:
            while not self._closing or self._queue:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                    try:
                        connection = connection or await self._engine.connect()
                        async with AsyncSession(bind=connection) as session, session.begin():
                            indices = await _insert(session, [row for row, _ in batch])
                    except Exception as exc:  # every waiting caller must learn of the failure
                        for _, done in batch:
                            done.set_exception(exc)
                        if connection is not None:
                            # The connection may be what failed; the next batch starts on a fresh one.
                            await connection.invalidate()
                            await connection.close()
                            connection = None
                        continue
                    for (_, done), idx in zip(batch, indices, strict=True):
                        done.set_result(idx)
        finally:
            if connection is not None:
                await connection.close()

    async def aclose(self) -> None:
        """Refuse new events and return once those already queued are committed."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
