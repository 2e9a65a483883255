"""Programmatic Alembic: upgrade, downgrade and the 'is this database current?' check used at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None, data_dir: Path | None = None) -> Config:
    """Alembic's configuration; ``data_dir`` (absolute) lets a data migration make folders relative to it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    if data_dir is not None:
        config.attributes["data_dir"] = str(data_dir)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions())


class SchemaOutOfDate(Exception):
    """The database is not at the code's migration head."""


class SchemaNewerThanCode(SchemaOutOfDate):
    """The database was migrated by a newer handover: this code cannot run it, and must not try to migrate it."""

    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"the database is at migration {current}, which this version of handover (newest migration {head}) "
            "does not know: a newer version of handover has already migrated it. Install that version of handover "
            "(or a newer one) and run it; do not run 'handover db upgrade' with this version, which cannot go back."
        )


async def upgrade(engine: AsyncEngine, revision: str = "head", *, data_dir: Path | None = None) -> None:
    """Migrate up; a database from a newer handover is refused with ``SchemaNewerThanCode`` before Alembic runs.

    ``data_dir`` is the hub's data directory (absolute): route folders under it are made relative to it (0024).
    """
    # The scripts are read off the event loop, before the migration's connection is taken.
    known = await asyncio.to_thread(known_revisions)
    head = await asyncio.to_thread(head_revision)

    def go(sync: Connection) -> None:
        current = MigrationContext.configure(sync).get_current_revision()
        if current is not None and current not in known:
            raise SchemaNewerThanCode(current, head)
        command.upgrade(alembic_config(sync, data_dir), revision)

    async with engine.begin() as conn:
        await conn.run_sync(go)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def require_current(engine: AsyncEngine) -> None:
    current = await current_revision(engine)
    head = await asyncio.to_thread(head_revision)
    if current is not None and current not in await asyncio.to_thread(known_revisions):
        raise SchemaNewerThanCode(current, head)
    if current != head:
        state = "has no schema yet" if current is None else f"is at migration {current}"
        raise SchemaOutOfDate(
            f"the database {state}, but this version of handover needs {head}. "
            "Run 'handover db upgrade' (back up production databases first)."
        )
