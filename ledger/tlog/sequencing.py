"""Sequencing: register lines queued by their steps get their ledger index, many per transaction (group commit).

The rule (queue, then sequence, as Trillian does):

1. A step writes its line into ``ledger_queue`` in its own transaction (``appending.append``). It takes no lock,
   so steps run side by side, and the line commits or rolls back with the step's business change.
2. The sequencer moves queued lines into ``ledger_entries``, one transaction per batch: under the index lock it
   deletes up to ``BATCH`` rows from the queue in id order, inserts them with the next consecutive indices, and
   commits. Moving a line and deleting it from the queue in one transaction means it is never lost and never
   gets two indices, whichever process dies when. The queue's id order is the ledger's order.
3. A step's commit returns once its lines are in ``ledger_entries``. After the commit (its connection already
   back in the pool) the session waits for this process's sequencer task (``Sequencer``), whose next batch takes
   every line committed so far; concurrent steps share that one transaction. So whoever reads the log after a
   step returned sees its lines, and one caller's consecutive lines keep their order. If sequencing fails (the
   database went away) the step still returns: its line is safe in the queue and the next batch takes it.
4. Lines a process committed but never sequenced (killed between its commit and its sequencer's batch) are taken
   by the next batch of any process: every hub process sweeps the queue (``sweep``, component
   ``ledger.sequence``, every 5 s and once more when it stops), and the readers that must see the whole log
   (``handover ledger``, the checkpoint duty, restore) first call ``drain``. Other readers (reports, ``/metrics``)
   rely on rule 3 alone: they may miss only lines whose step never returned.
5. A transaction that reads the log after appending to it sequences its own lines first, in its own transaction
   (``settle``, called by the readers in ``ledger.tlog.store``): read-your-writes, with the index lock held until
   that transaction ends. No step does this; tests do, and so does a session bound to a connection in an outer
   transaction (whose commit does not reach the database, so rule 3 cannot apply to it).

The index lock: on PostgreSQL a transaction-scoped advisory lock, taken before anything is read; on SQLite the
batch's first statement is the INSERT into the log, so the database's single write lock is held before anything is
read. Several processes sequencing at once therefore take turns, and each batch takes whatever is queued.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import cast

from sqlalchemy import Connection, Engine, FromClause, Select, Table, delete, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.util.concurrency import await_only, in_greenlet

from ledger.models.base import Base
from ledger.models.ledger import LedgerEntry, LedgerQueued
from ledger.tlog import tiles

log = logging.getLogger(__name__)

# Lines moved per transaction: large enough that a burst is one commit, small enough that a batch stays short.
BATCH = 2000

# Arbitrary, but fixed forever: every hub process must contend for the same advisory lock ("ledg" + 1).
ADVISORY_LOCK_KEY = 0x6C656467_00000001

entries: Table = Base.metadata.tables[LedgerEntry.__tablename__]
queue: Table = Base.metadata.tables[LedgerQueued.__tablename__]

# Built once so that SQLAlchemy's compiled-statement cache is hit without recomputing cache keys per batch.
_LOCK = select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY))
_LAST_QUEUED = select(func.max(queue.c.id))
_ANY_QUEUED = select(queue.c.id).limit(1)
_COLUMNS = ("entry", "leaf_hash", "kind", "contract_id", "package_id", "recorded_at")

# Keys in a session's ``info``: it queued lines in its open transaction / they committed and are to be waited for.
_QUEUED = "ledger.queued"
_COMMITTED = "ledger.committed"


def queued(session: AsyncSession) -> None:
    """Note that ``session``'s transaction queued a line (``appending.append`` calls it)."""
    session.info[_QUEUED] = True


def _oldest(upper: int | None) -> Select[tuple[int]]:
    """The ids of the next batch: the queue's oldest, up to ``upper``."""
    oldest = select(queue.c.id).order_by(queue.c.id).limit(BATCH)
    return oldest if upper is None else oldest.where(queue.c.id <= upper)


def _moved_into_log(source: FromClause) -> ReturningInsert[tuple[int, bytes]]:
    """INSERT into the log the rows of ``source`` (queue-shaped), numbered on from the log's size in id order."""
    start = select(func.coalesce(func.max(entries.c.idx), -1) + 1).scalar_subquery()
    numbered = select(start + func.row_number().over(order_by=source.c.id) - 1, *(source.c[name] for name in _COLUMNS))
    return insert(entries).from_select(["idx", *_COLUMNS], numbered).returning(entries.c.idx, entries.c.leaf_hash)


async def sequence_batch(session: AsyncSession, upper: int | None = None) -> int:
    """Move up to ``BATCH`` queued lines (ids up to ``upper``) into the log in ``session``'s transaction.

    The rows are copied inside the database (nothing but the new indices and leaf hashes comes back): on PostgreSQL
    one statement deletes them from the queue and inserts them into the log, under the advisory lock; on SQLite the
    INSERT comes first, so it takes the write lock, and the DELETE then sees the very same rows.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK)
        taken = delete(queue).where(queue.c.id.in_(_oldest(upper).scalar_subquery())).returning(*queue.c).cte()
        rows = list((await session.execute(_moved_into_log(taken))).all())
    else:
        batch = select(queue).where(queue.c.id.in_(_oldest(upper).scalar_subquery())).subquery()
        rows = list((await session.execute(_moved_into_log(batch))).all())
        await session.execute(delete(queue).where(queue.c.id.in_(_oldest(upper).scalar_subquery())))
    if not rows:
        return 0
    # RETURNING promises no order: sorted, rows[0][0] is the batch's first index and the leaf hashes are in order.
    ordered = sorted(cast("tuple[int, bytes]", tuple(row)) for row in rows)
    await tiles.record_leaves(session, ordered[0][0], [leaf for _, leaf in ordered])
    return len(ordered)


async def _sequence_all(session: AsyncSession) -> int:
    """Every line committed to the queue before this call, sequenced in batches, each its own transaction.

    A batch shorter than ``BATCH`` took every line there was. After a full one, the batches stop at the queue's
    last id as it was then, so steps that keep queueing cannot hold a waiting caller back for ever.
    """
    upper: int | None = None
    total = 0
    while True:
        async with session.begin():
            moved = await sequence_batch(session, upper)
            if moved == BATCH and upper is None:
                upper = (await session.execute(_LAST_QUEUED)).scalar_one()
        total += moved
        if moved < BATCH or upper is None:
            return total


async def drain(session: AsyncSession) -> int:
    """Sequence every line queued so far, in transactions of ``session`` (not in one yet); returns lines moved.

    Readers that must see the whole log call it first. An empty queue is only read, so a read-only database
    account (an auditor's) can still verify.
    """
    async with session.begin():
        if (await session.execute(_ANY_QUEUED)).first() is None:
            return 0
    return await _sequence_all(session)


async def settle(session: AsyncSession) -> None:
    """Sequence the lines ``session``'s own open transaction queued, so its reads of the log include them (rule 5)."""
    if session.info.pop(_QUEUED, False):
        while await sequence_batch(session) == BATCH:
            pass


async def sweep(sessions: async_sessionmaker[AsyncSession], beat: Callable[[], None], interval: float = 5.0) -> None:
    """Every ``interval`` seconds, sequence what processes that died left queued (rule 4); a hub's supervised loop."""
    while True:
        async with sessions() as session:
            moved = await drain(session)
        if moved:
            log.info("sequenced %d ledger lines left queued", moved)
        beat()
        await asyncio.sleep(interval)


class Sequencer:
    """This process's group-commit writer for one engine: one task sequences for every step waiting on it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        """Return once every line committed before this call is in the log (or sequencing failed and was logged)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a test, a CLI command) starts afresh
            self._loop, self._waiting, self._task = loop, [], None
        done = loop.create_future()
        self._waiting.append(done)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        await done

    async def _run(self) -> None:
        # Each round's waiters learn the outcome only after its connections are back in the pool, and nothing is
        # awaited after that: a caller that returns (a test that ends, a hub that stops) never leaves this task
        # holding a connection open.
        while self._waiting:
            waiters, self._waiting = self._waiting, []
            engine = self._engine()
            if engine is not None:
                try:
                    async with AsyncSession(bind=AsyncEngine(engine)) as session:
                        await _sequence_all(session)
                except Exception:
                    # The steps have committed and their lines are safe in the queue: they return, and the next
                    # batch (a later step's, or the sweep's) takes the lines.
                    log.warning("sequencing the ledger queue failed; the lines stay queued", exc_info=True)
            for done in waiters:
                if not done.done():
                    done.set_result(None)


_sequencers: weakref.WeakKeyDictionary[Engine, Sequencer] = weakref.WeakKeyDictionary()


def _sequencer(engine: Engine) -> Sequencer:
    sequencer = _sequencers.get(engine)
    if sequencer is None:
        sequencer = _sequencers[engine] = Sequencer(engine)
    return sequencer


def _outer(session: Session) -> bool:
    """Bound to a connection the caller opened: its commit may be a savepoint of an outer transaction."""
    return isinstance(session.bind, Connection)


def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is None and not _outer(session) and session.info.pop(_QUEUED, False):
        session.info[_COMMITTED] = True


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or _outer(session):
        return
    session.info.pop(_QUEUED, None)  # rolled back: the lines went with the step
    if session.info.pop(_COMMITTED, False) and isinstance(session.bind, Engine) and in_greenlet():
        # The connection is back in the pool by now, so waiting steps never starve the sequencer of one.
        await_only(_sequencer(session.bind).wait())


# Every session of the process (the hub's, a CLI command's): whoever queues lines waits for them after its commit.
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_transaction_end", _after_transaction_end)
