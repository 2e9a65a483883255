"""``handover db``: schema migrations, and moving the files an older hub kept on disk into the blob store."""

from __future__ import annotations

import click

from exchange import hub
from exchange.admin import bootstrap
from exchange.admin.sealed_files_move import MoveResult, SealedFilesMove
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

    @db.command("move-sealed-files")
    @click.pass_obj
    def move_sealed_files(state: CliState) -> None:
        """After upgrading to 0019: move the sealed files under this host's data directory into the blob store
        (uploads, quarantined drops, reference extracts, inspection attachments). Safe to run again."""

        async def go() -> MoveResult:
            async with hub.services(state.settings) as services:
                data_dir = state.settings.data_dir.resolve()
                return await SealedFilesMove(services.sessions, services.blobs, services.keyring, data_dir).run()

        result = run(go())
        labels = {
            "uploads": "提出ファイル",
            "quarantine": "隔離ファイル",
            "references": "照合用データ",
            "attachments": "検査の添付",
        }
        moved = "、".join(f"{labels[kind]} {count}件" for kind, count in sorted(result.moved.items())) or "なし"
        click.echo(f"保管先（blob store）へ移しました: {moved}")
        for key in result.missing:
            click.echo(f"元のファイルが見つかりません: {key}")

    @db.command("current")
    @click.pass_obj
    def current(state: CliState) -> None:
        """Show the database's migration and the code's."""

        async def go() -> str | None:
            async with bootstrap.open_engine(state.settings, require_schema=False) as engine:
                return await migrate.current_revision(engine)

        click.echo(f"database: {run(go()) or '(empty)'}; code: {migrate.head_revision()}")
