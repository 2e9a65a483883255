"""Alembic discipline: the schema comes from migrations, which go up, down and up again on both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.migrate import current_revision, downgrade, head_revision, upgrade
from ledger.models.base import Base


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_upgrade_downgrade_upgrade(db_engine: AsyncEngine) -> None:
    head = await asyncio.to_thread(head_revision)  # reads the migration scripts
    assert await current_revision(db_engine) == head
    assert await _tables(db_engine) == set(Base.metadata.tables)
    await downgrade(db_engine, "base")
    assert await _tables(db_engine) == set()
    assert await current_revision(db_engine) is None
    await upgrade(db_engine)
    assert await current_revision(db_engine) == head
    assert await _tables(db_engine) == set(Base.metadata.tables)


@pytest.mark.allow_blocking("Alembic's comparison is synchronous and runs through run_sync by design")
async def test_models_match_migrations(db_engine: AsyncEngine) -> None:
    """No model change without a migration: autogenerate against the migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async with db_engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    assert diff == []
