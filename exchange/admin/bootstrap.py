"""Starting points shared by the CLI and the server: open the database, first-time initialisation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from exchange.identity.accounts import create_admin
from exchange.keys import sealing
from exchange.settings import Settings
from ledger import migrate
from ledger.db import create_engine, session_factory
from ledger.tlog import checkpoint


class HubUnavailable(Exception):
    """Something the hub needs is missing; the message is one paragraph for the operator."""


def describe_database(url: str) -> str:
    """The URL without any password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


@asynccontextmanager
async def open_engine(settings: Settings, *, require_schema: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine that has been proven to connect (and, by default, to be at the current migration)."""
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    try:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError) as exc:
            raise HubUnavailable(
                f"The database {describe_database(settings.database.url)} cannot be reached "
                f"({type(exc).__name__}). Check database.url in the configuration and that the server runs."
            ) from None
        if require_schema:
            try:
                await migrate.require_current(engine)
            except migrate.SchemaOutOfDate as exc:
                raise HubUnavailable(str(exc)) from None
        yield engine
    finally:
        await engine.dispose()


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@dataclass
class InitResult:
    actions: list[str] = field(default_factory=list)
    admin_login: str = "admin"
    admin_password: str | None = None


async def initialise(settings: Settings, admin_login: str = "admin") -> InitResult:
    """Create what a fresh hub needs; safe to run again (existing keys and accounts are kept)."""
    result = InitResult(admin_login=admin_login)
    result.actions += await asyncio.to_thread(_make_files, settings)
    async with open_engine(settings, require_schema=False) as engine:
        try:
            await migrate.upgrade(engine, data_dir=await asyncio.to_thread(settings.data_dir.resolve))
        except migrate.SchemaNewerThanCode as exc:
            raise HubUnavailable(str(exc)) from None
        head = await asyncio.to_thread(migrate.head_revision)
        result.actions.append(f"database {describe_database(settings.database.url)} at {head}")
        async with sessions(engine)() as session, session.begin():
            result.admin_password = await create_admin(session, admin_login)
    return result


def _make_files(settings: Settings) -> list[str]:
    """The data folder, the keys and the connectors' folders (file work, so it runs off the event loop)."""
    actions: list[str] = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    # A key named by an environment variable is the operator's to distribute (README "Keys"); init makes files.
    master, signing = settings.master_key.file, settings.signing_key.file
    if master is not None and not master.exists():
        sealing.create_master_key(master)
        actions.append(f"created master key {master} (mode 0600)")
    if signing is not None and not signing.exists():
        checkpoint.generate_key_file(signing, settings.ledger_origin)
        actions.append(f"created ledger signing key {signing} (mode 0600)")
    for name, connector in settings.connectors.items():
        for folder in connector.local_folders():
            if not folder.exists():
                folder.mkdir(parents=True)
                actions.append(f"created folder {folder} for connector {name}")
    return actions
