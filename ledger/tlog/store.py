"""Reading the stored log: its tables, its size, and its rows in index order, a batch at a time.

Leaf ``i`` is the ``ledger_entries`` row with ``idx = i``. Verification and export read the log through
:func:`batches` (verify through :func:`entry_rows`), so memory stays flat however long the log grows; proofs read
tiles (``ledger.tlog.tiles``). A transaction that queued lines of its own sees them here: the readers first
``settle`` them (``ledger.tlog.sequencing``, rule 5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import Base
from ledger.models.ledger import LedgerCheckpoint, LedgerEntry
from ledger.tlog import sequencing  # a module: sequencing imports tiles, which imports this module

BATCH_ROWS = 20_000

entries: Table = Base.metadata.tables[LedgerEntry.__tablename__]
checkpoints: Table = Base.metadata.tables[LedgerCheckpoint.__tablename__]


class LedgerIntegrityError(RuntimeError):
    """The stored log is not a contiguous, untampered sequence of leaves."""


async def tree_size(session: AsyncSession) -> int:
    """Entries in the log (committed ones, plus this session's own)."""
    await sequencing.settle(session)
    size = await session.scalar(select(func.coalesce(func.max(entries.c.idx), -1) + 1))
    return int(size or 0)


async def batches(
    session: AsyncSession, *columns: Any, start: int = 0, end: int | None = None, rows: int = BATCH_ROWS
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows ``(idx, *columns)`` from ``start`` ordered by index, ``rows`` at a time (keyset pagination)."""
    await sequencing.settle(session)
    last: int = start - 1
    while True:
        query = select(entries.c.idx, *columns).order_by(entries.c.idx).limit(rows)
        if last >= 0:
            query = query.where(entries.c.idx > last)
        if end is not None:
            query = query.where(entries.c.idx < end)
        batch = (await session.execute(query)).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


_ROW_COLUMNS = [entries.c[name] for name in ("idx", "entry", "leaf_hash", "kind", "contract_id", "package_id")]


async def entry_rows(session: AsyncSession, after: int, end: int | None, rows: int) -> list[Sequence[Any]]:
    """Up to ``rows`` rows ``(idx, entry, leaf_hash, kind, contract_id, package_id)`` with ``after < idx < end``.

    Read through the driver itself, in the session's transaction: a full verify reads every row, and
    SQLAlchemy's per-row result processing was half of its time. ``after < 0`` reads from the first row, so a
    tampered negative index is seen.
    """
    await sequencing.settle(session)
    query = select(*_ROW_COLUMNS).order_by(entries.c.idx).limit(rows)
    if after >= 0:
        query = query.where(entries.c.idx > after)
    if end is not None:
        query = query.where(entries.c.idx < end)
    # Bound parameters, not literals: the statement's text stays the same, so asyncpg prepares it once.
    compiled = query.compile(dialect=session.get_bind().dialect)
    arguments = [compiled.params[name] for name in compiled.positiontup or ()]
    connection = await (await session.connection()).get_raw_connection()
    driver: Any = connection.driver_connection
    if compiled.dialect.name == "postgresql":
        return list(await driver.fetch(compiled.string, *arguments))
    return list(await driver.execute_fetchall(compiled.string, arguments))
