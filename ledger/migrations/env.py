"""Alembic environment: runs migrations on the connection handed over by ``ledger.migrate``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import BigInteger, func, literal, select
from sqlalchemy.engine import Connection

import ledger.models  # noqa: F401 - registers every table on Base.metadata for autogenerate
from ledger.models.base import Base, UTCDateTime

# Key of the PostgreSQL advisory lock that serialises migrations: "handover" in ASCII, read as a 64-bit integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"handover")


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application types: render our UTC wrapper as the plain column type.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def serialise_migrations(connection: Connection) -> None:
    """Make a second process that migrates the same PostgreSQL database wait until the first has committed.

    Without this, two processes starting on an empty database both see no version table and both create the
    schema; the second fails half-way. The lock is transaction-scoped: ``ledger.migrate`` runs the whole
    upgrade in one transaction, so the lock is released by its commit or rollback, never left behind. When the
    waiting process gets the lock, its later statements see the committed schema and Alembic finds nothing to
    do. SQLite has no such lock, and its Python driver runs DDL outside a transaction, one statement at a time,
    so two processes migrating one SQLite file at the same moment can still collide there.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(literal(MIGRATION_LOCK_KEY, BigInteger))))


def run_on(connection: Connection) -> None:
    serialise_migrations(connection)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'handover db upgrade', which supplies the connection")
run_on(connection)
