"""A way around the ledger's append-only triggers, for the tests that show verify notices edited history."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def allow_tampering(session: AsyncSession) -> None:
    """Drop the triggers that make the ledger append-only, as an attacker with DDL rights could.

    The tampering tests must edit history to show that verify notices; the triggers installed by migration
    0002 would refuse that. On PostgreSQL the DROP is part of the test's rolled-back transaction; on SQLite
    each test has its own database file.
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in ("ledger_entries", "ledger_checkpoints"):
            await session.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
    else:
        for table in ("ledger_entries", "ledger_checkpoints"):
            for action in ("update", "delete"):
                await session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
