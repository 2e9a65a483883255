"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

The other shared fixtures are plugins listed in ``pytest_plugins`` below: the event-loop guards
(``tests/blocking.py``) and the real services (``tests/services/``).

Isolation: ``db_session`` wraps a test in a transaction on a migrated database and rolls it back (the savepoint
pattern); ``db_engine`` gives a test a whole fresh database (a copy of a migrated SQLite file, or a PostgreSQL
database cloned from a migrated template) for tests that need several connections or commits.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from ledger.db import create_engine
from ledger.migrate import upgrade
from tests.services import skip_or_fail

# The event-loop guards every async test runs under, and the real services that tests in several folders share.
pytest_plugins = [
    "tests.blocking",
    "tests.services.sshd",
    "tests.services.clamd",
    "tests.services.box",
    "tests.services.tmpfs",
    "tests.services.moto_s3",
]

PG_ADMIN_URL = os.environ.get("HANDOVER_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]
_counter = itertools.count()


async def _pg_admin(statements: list[str]) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@dataclass(frozen=True)
class PgTemplate:
    name: str | None
    unreachable: str = ""


@pytest.fixture(scope="session")
def pg_template() -> Iterator[PgTemplate]:
    """A migrated template database, or the reason PostgreSQL cannot be used."""
    name = f"handover_tmpl_{os.getpid()}"
    try:
        asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"']))
    except (OSError, SQLAlchemyError) as exc:
        yield PgTemplate(None, f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc}")
        return
    asyncio.run(_migrate(f"{PG_BASE}/{name}"))
    yield PgTemplate(name)
    asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture
def empty_pg_url(pg_template: PgTemplate) -> Iterator[str]:
    """URL of a new PostgreSQL database with no schema at all, for tests of migrating itself."""
    if pg_template.name is None:
        skip_or_fail(pg_template.unreachable)
    name = f"handover_e_{os.getpid()}_{next(_counter)}"
    asyncio.run(_pg_admin([f'CREATE DATABASE "{name}"']))
    yield f"{PG_BASE}/{name}"
    asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated, private database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "handover.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template: PgTemplate = request.getfixturevalue("pg_template")
    if template.name is None:
        skip_or_fail(template.unreachable)
    name = f"handover_t_{os.getpid()}_{next(_counter)}"
    asyncio.run(_pg_admin([f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"']))
    yield f"{PG_BASE}/{name}"
    asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db_session(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits land in a savepoint; everything is rolled back after the test."""
    async with db_engine.connect() as conn:
        transaction = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
