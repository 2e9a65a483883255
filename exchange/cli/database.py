"""``handover db``: schema migrations."""

from __future__ import annotations

import click

from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from ledger import migrate


def register(main: click.Group) -> None:
    @main.group("db")
    def db() -> None:
        """Database schema."""

    @db.command("upgrade")
    @click.pass_obj
    def upgrade(state: CliState) -> None:
        """Bring the database to the newest migration (a database from a newer handover is refused, unchanged)."""

        data_dir = state.settings.data_dir.resolve()

        async def go() -> str:
            async with bootstrap.open_engine(state.settings, require_schema=False) as engine:
                await migrate.upgrade(engine, data_dir=data_dir)
                return str(await migrate.current_revision(engine))

        try:
            revision = run(go())
        except migrate.SchemaNewerThanCode as exc:
            fail(str(exc))
        click.echo(f"database at migration {revision}")

    @db.command("current")
    @click.pass_obj
    def current(state: CliState) -> None:
        """Show the database's migration and the code's."""

        async def go() -> str | None:
            async with bootstrap.open_engine(state.settings, require_schema=False) as engine:
                return await migrate.current_revision(engine)

        click.echo(f"database: {run(go()) or '(empty)'}; code: {migrate.head_revision()}")
