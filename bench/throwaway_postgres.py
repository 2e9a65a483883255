"""A throwaway PostgreSQL database for a bench: created next to the given URL's database, dropped afterwards.

The benches share PostgreSQL with the test suite (database ``test``); their own database keeps their millions of
rows out of it and is gone even when the bench fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledger.db import create_engine


@asynccontextmanager
async def throwaway_database(url: str, name: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a new database ``name`` on the server of ``url``; the database is dropped on exit."""
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(f"{url.rsplit('/', 1)[0]}/{name}")
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
