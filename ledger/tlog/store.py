"""Reading the stored log: its tables, its size, and its rows in index order, a batch at a time.

Leaf ``i`` is the ``ledger_entries`` row with ``idx = i``. Verification, proofs and export all read the log
through :func:`batches`, so memory stays flat however long the log grows. A transaction that queued lines of its
own sees them here: the readers first ``settle`` them (``ledger.tlog.sequencing``, rule 5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import Base
from ledger.models.ledger import LedgerCheckpoint, LedgerEntry
from ledger.tlog.sequencing import settle

BATCH_ROWS = 20_000

entries: Table = Base.metadata.tables[LedgerEntry.__tablename__]
checkpoints: Table = Base.metadata.tables[LedgerCheckpoint.__tablename__]


class LedgerIntegrityError(RuntimeError):
    """The stored log is not a contiguous, untampered sequence of leaves."""


async def tree_size(session: AsyncSession) -> int:
    """Entries in the log (committed ones, plus this session's own)."""
    await settle(session)
    size = await session.scalar(select(func.coalesce(func.max(entries.c.idx), -1) + 1))
    return int(size or 0)


async def batches(
    session: AsyncSession, *columns: Any, end: int | None = None
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows ``(idx, *columns)`` ordered by index, ``BATCH_ROWS`` at a time (keyset pagination)."""
    await settle(session)
    last: int | None = None
    while True:
        query = select(entries.c.idx, *columns).order_by(entries.c.idx).limit(BATCH_ROWS)
        if last is not None:
            query = query.where(entries.c.idx > last)
        if end is not None:
            query = query.where(entries.c.idx < end)
        rows = (await session.execute(query)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


async def leaf_hashes(session: AsyncSession, size: int) -> AsyncIterator[tuple[int, bytes]]:
    """``(idx, leaf hash)`` of the first ``size`` leaves; a gap in the indices is an integrity error."""
    current = await tree_size(session)
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside the log's 0..{current}")
    expected = 0
    async for batch in batches(session, entries.c.leaf_hash, end=size):
        for idx, leaf in batch:
            if idx != expected:
                raise LedgerIntegrityError(f"index {expected} is missing; run verify")
            expected += 1
            yield idx, leaf
    if expected != size:
        raise LedgerIntegrityError(f"index {expected} is missing; run verify")
