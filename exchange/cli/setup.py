"""``handover init`` and ``handover config check``; the shared CLI state and error reporting."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from exchange.admin import bootstrap
from exchange.logs import configure
from exchange.settings import ConfigError, Settings, load_settings

T = TypeVar("T")


@dataclass
class CliState:
    config_path: Path | None
    _settings: Settings | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
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
    try:
        return asyncio.run(coro)
    except bootstrap.HubUnavailable as exc:
        fail(str(exc))


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
        source = state.config_path or "built-in defaults / config/hub.toml"
        click.echo(f"configuration OK ({source})")
        click.echo(f"  database: {bootstrap.describe_database(settings.database.url)}")
        click.echo(f"  data directory: {settings.data_dir.resolve()}")
        for name, connector in settings.connectors.items():
            where = f"{connector.jurisdiction.country}/{connector.jurisdiction.region}"
            click.echo(f"  connector {name}: {connector.kind} ({where})")
