"""``handover init`` and ``handover config check``; what every command module shares.

Shared: the CLI state (settings loaded once), error reporting (``fail``, ``run``), a database for one command
(``with_sessions``), with the blob store too (``with_blobs``), running a duty now (``run_duty``), writing a report
file (``write_report``) and looking up the package or person a command names.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.registry import build_connectors
from exchange.admin import bootstrap
from exchange.blobs.registry import build_blob_store
from exchange.blobs.store import BlobStore
from exchange.duties.scheduler import DutyRunner, build_context
from exchange.keys import sources
from exchange.logs import configure
from exchange.settings import ConfigError, Settings, load_settings
from ledger import reports
from ledger.files import write_atomic
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.reports.model import Report

T = TypeVar("T")


@dataclass
class CliState:
    config_path: Path | None
    # Commands that never open a connector (the ledger's) clear this before the settings are first read.
    secrets_needed: bool = field(default=True, init=False)
    _settings: Settings | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path, check_secrets=self.secrets_needed)
            except ConfigError as exc:
                fail(f"The configuration in {exc.source} cannot be used:", exc.problems)
            configure(self._settings.logging.level, json_lines=self._settings.logging.json_lines)
        return self._settings


def fail(headline: str, details: list[str] | None = None) -> NoReturn:
    click.echo(f"error: {headline}", err=True)
    for line in details or []:
        click.echo(f"  - {line}", err=True)
    sys.exit(2)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning the hub's known failures into one readable paragraph."""
    context = click.get_current_context(silent=True)
    if context is not None and isinstance(context.obj, CliState):
        # Read the configuration before the event loop starts: reading files on the loop would block it.
        _ = context.obj.settings
    try:
        return asyncio.run(coro)
    except bootstrap.HubUnavailable as exc:
        fail(str(exc))
    except sources.KeyUnavailable as exc:
        fail("the hub's keys cannot be used:", [str(exc)])


def with_sessions(state: CliState, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Open the configured database for one piece of work; a refusal (``ValueError``) becomes its message."""

    async def go() -> T:
        async with bootstrap.open_engine(state.settings) as engine:
            return await work(bootstrap.sessions(engine))

    try:
        return run(go())
    except ValueError as exc:
        fail(str(exc))


@asynccontextmanager
async def blob_store(settings: Settings) -> AsyncIterator[BlobStore]:
    """The blob store the settings name, for a command that works without the whole hub (``hub.services``)."""
    blobs = await asyncio.to_thread(build_blob_store, settings)  # the local backend makes its folder
    try:
        yield blobs
    finally:
        await blobs.close()


def with_blobs(state: CliState, work: Callable[[async_sessionmaker[AsyncSession], BlobStore], Awaitable[T]]) -> T:
    """``with_sessions`` with the blob store the settings name, built for the command and closed after it."""

    async def go(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with blob_store(state.settings) as blobs:
            return await work(sessions, blobs)

    return with_sessions(state, go)


def run_duty(state: CliState, name: str) -> dict[str, Any]:
    """Run one scheduled duty now, through the same runner and lease as ``handover serve``."""

    async def work(sessions: async_sessionmaker[AsyncSession], blobs: BlobStore) -> dict[str, Any]:
        ctx = build_context(state.settings, sessions, build_connectors(state.settings.connectors), blobs)
        result = await DutyRunner(ctx).run_now(name)
        if result is None:
            raise ValueError(f"{name} is running in another hub process; try again later")
        return result.result or {}

    return with_blobs(state, work)


def write_out(out: Path, data: bytes) -> None:
    """Write a report or PDF the operator asked for (atomically; parent folders are created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data, mode=None)


def write_report(state: CliState, build: Callable[[AsyncSession], Awaitable[Report]], fmt: str, out: Path) -> None:
    """Build a report in one read-only session, render it off the event loop and write it to ``out``."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session:
            built = await build(session)
        data = await asyncio.to_thread(reports.render, built, fmt)
        await asyncio.to_thread(write_out, out, data)
        return sum(len(section.rows) for section in built.sections)

    rows = with_sessions(state, work)
    click.echo(f"wrote {out} ({fmt}, {rows} rows)")


async def find_package(session: AsyncSession, public_id: str) -> Package:
    """The package a command names, with its contract and party; an unknown id ends the command."""
    package = (
        await session.execute(
            select(Package)
            .where(Package.public_id == public_id)
            .options(selectinload(Package.contract).selectinload(Contract.party))
        )
    ).scalar_one_or_none()
    if package is None:
        fail(f"no package {public_id}")
    return package


async def find_person(session: AsyncSession, code: str) -> Person:
    """The person a command names by code; an unknown code ends the command."""
    person = (await session.execute(select(Person).where(Person.code == code))).scalar_one_or_none()
    if person is None:
        fail(f"no person with code {code}")
    return person


def register(main: click.Group) -> None:
    @main.command("init")
    @click.pass_obj
    def init(state: CliState) -> None:
        """Create the data directory, keys, database and the first admin account."""
        result = run(bootstrap.initialise(state.settings))
        for line in result.actions:
            click.echo(line)
        if result.admin_password is not None:
            click.echo("")
            click.echo("First admin account created. Its one-time password is shown only now:")
            click.echo(f"  login: {result.admin_login}")
            click.echo(f"  password: {result.admin_password}")
            click.echo("Write it down and change it at first login.")

    @main.group("config")
    def config_group() -> None:
        """Inspect the configuration."""

    @config_group.command("check")
    @click.pass_obj
    def check(state: CliState) -> None:
        """Validate the configuration and explain every problem with the key's path."""
        settings = state.settings
        try:  # the keys as the hub will read them at start (their ids only: a key's value is never shown)
            keyring = sources.hub_keyring(settings)
            signing = sources.signing_key(settings.signing_key).verifier
        except sources.KeyUnavailable as exc:
            fail("the hub's keys cannot be used:", [str(exc)])
        source = state.config_path or "built-in defaults / config/hub.toml"
        click.echo(f"configuration OK ({source})")
        click.echo(f"  database: {bootstrap.describe_database(settings.database.url)}")
        click.echo(f"  data directory: {settings.data_dir.resolve()}")
        click.echo(f"  master key: {keyring.current.key_id} ({len(keyring.key_ids) - 1} old keys kept for unsealing)")
        click.echo(f"  ledger signing key: {signing.name}+{signing.key_id.hex()}")
        for name, connector in settings.connectors.items():
            where = f"{connector.jurisdiction.country}/{connector.jurisdiction.region}"
            click.echo(f"  connector {name}: {connector.kind} ({where})")
