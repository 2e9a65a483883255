"""Alembic discipline: the schema comes from migrations, which go up, down and up again on both databases.

Landed revisions are frozen: ``ledger/migrations/frozen.json`` maps each revision file to the SHA-256 of its
bytes, and ``test_landed_revisions_are_frozen`` fails when one of them changes or disappears. The manifest is
append-only, like the revisions: when you create a revision, add its file name and hash to it once (the test
fails and prints the line to add). A database migrated by an earlier version of handover has already run the
old text of a revision; editing it in place would leave such a database reporting the head revision with a
different schema, so every change goes into a new revision instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.db import create_engine
from ledger.migrate import MIGRATIONS, current_revision, downgrade, head_revision, upgrade
from ledger.models.base import Base

FROZEN = MIGRATIONS / "frozen.json"


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


@pytest.mark.allow_blocking(
    "Alembic runs a whole revision through run_sync: building the baseline's tables is one long callback by design"
    " (the hub migrates only before it serves: init, db upgrade, or serve --demo before the portal opens)"
)
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


def test_landed_revisions_are_frozen() -> None:
    """Every revision file is listed in frozen.json with the hash of its bytes, and none has changed since."""
    frozen: dict[str, str] = json.loads(FROZEN.read_text(encoding="utf-8"))
    present = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in MIGRATIONS.glob("versions/*.py")}
    problems = [
        f"{name} changed after it landed; revisions are append-only: revert the edit and put the change in a "
        "new revision (only a revision not yet on main may have its hash updated in frozen.json)"
        for name, digest in frozen.items()
        if name in present and present[name] != digest
    ]
    problems += [
        f"{name} is listed in frozen.json but gone; a landed revision is never deleted"
        for name in sorted(set(frozen) - set(present))
    ]
    problems += [
        f'{name} is not in frozen.json; add it once, now that you have created it: "{name}": "{present[name]}"'
        for name in sorted(set(present) - set(frozen))
    ]
    assert not problems, "\n".join(problems)


def _upgrade_in_own_process(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def _revision_and_tables(url: str) -> tuple[str | None, set[str]]:
    engine = create_engine(url)
    try:
        return await current_revision(engine), await _tables(engine)
    finally:
        await engine.dispose()


def test_concurrent_upgrades_on_postgresql_take_turns(empty_pg_url: str) -> None:
    """Two processes migrating one empty database: the advisory lock in env.py makes the second wait, not fail.

    Separate processes, as in production (``handover db upgrade`` beside a starting hub): Alembic keeps its
    running context in module globals, so two upgrades in one process would trip over each other instead.
    """
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = [pool.submit(_upgrade_in_own_process, empty_pg_url) for _ in range(2)]
        for run in runs:
            run.result()
    revision, tables = asyncio.run(_revision_and_tables(empty_pg_url))
    assert revision == head_revision()
    assert tables == set(Base.metadata.tables)
