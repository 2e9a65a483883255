"""``handover backup DEST`` and ``handover restore SRC``: a consistent backup set, and a hub rebuilt from one (C-13)."""

from __future__ import annotations

from pathlib import Path

import click

from connectors.options import SecretRef
from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from exchange.keys import sources
from exchange.recovery import database
from exchange.recovery.backup import BackupRefused, take_backup
from exchange.recovery.folder_plan import FolderMap, FolderPlan
from exchange.recovery.manifest import Manifest
from exchange.recovery.restore import RestoreRefused, check_target, plan_folders, restore
from exchange.settings import DatabaseSettings, Settings

_HOW = {
    "data_dir": "moves with the data directory",
    "mapped": "mapped",
    "relocated": "relocated under the new data directory (no real share)",
    "taken_over": "TAKEN OVER: the original's own folder (the original must never run again)",
}


def _keys_notice(settings: Settings) -> list[str]:
    return [
        "keys are not in the backup (by design). Keep them separately, e.g. on offline media in a safe:",
        f"  master key: {_place(settings.master_key)}",
        f"  ledger signing key: {_place(settings.signing_key)}",
    ]


def _place(ref: SecretRef) -> str:
    """Where a key is kept: its file's absolute path, or the environment variable that carries it."""
    return str(ref.file.resolve()) if ref.file is not None else f"environment variable {ref.env}"


def register(main: click.Group) -> None:
    @main.command("backup")
    @click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
    @click.option(
        "--pg-dump",
        is_flag=True,
        help="PostgreSQL: include a pg_dump (custom format). Without it the database is its own tooling's job.",
    )
    @click.pass_obj
    def backup_(state: CliState, dest: Path, pg_dump: bool) -> None:
        """Write the database, the blob manifest (and local blobs) and the ledger's root into the new folder DEST."""
        try:
            result = run(take_backup(state.settings, dest, pg_dump=pg_dump))
        except (BackupRefused, database.DatabaseCopyFailed) as exc:
            fail(
                str(exc),
                _keys_notice(state.settings),
            )
        manifest = result.manifest
        db = manifest.database
        click.echo(f"backup written to {dest.resolve()}")
        if db.copy is not None:
            click.echo(f"  database: {db.kind} {db.url} at {db.revision}, copied to {db.copy}")
        else:
            click.echo(
                f"  database: {db.url} at {db.revision} NOT copied: back it up with PostgreSQL's own tooling "
                "(base backup + WAL archive), or run again with --pg-dump"
            )
        click.echo(f"  ledger: {manifest.ledger.tree_size} entries, root {manifest.ledger.root_hash}")
        blobs = manifest.blobs
        where = (
            "copied and checked" if blobs.copied else "listed with hashes; versioning/replication is the bucket's job"
        )
        click.echo(f"  blobs: {len(blobs.items)} ({blobs.kind}: {where})")
        if result.vanished:
            click.echo(f"  {result.vanished} blobs were deleted while the backup ran (retention) and are left out")
        click.echo("keys are not in the backup (by design). Keep them separately, e.g. on offline media in a safe:")
        for place in manifest.keys_kept_elsewhere.values():
            click.echo(f"  {place}")

    @main.command("restore")
    @click.argument("source", type=click.Path(path_type=Path, file_okay=False, exists=True))
    @click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), help="The new hub's data directory.")
    @click.option(
        "--database-url",
        default=None,
        help="The new hub's database (default: the configured one; with --data-dir and SQLite, DATA_DIR/handover.db).",
    )
    @click.option(
        "--map-folder",
        "maps",
        multiple=True,
        metavar="OLD=NEW",
        help="Use NEW for the original's folder OLD (outside its data directory); repeatable.",
    )
    @click.option(
        "--relocate-unmapped",
        is_flag=True,
        help="Give every unmapped outside folder an empty one under DATA_DIR/relocated/ (a rehearsal).",
    )
    @click.pass_obj
    def restore_(
        state: CliState,
        source: Path,
        data_dir: Path | None,
        database_url: str | None,
        maps: tuple[str, ...],
        relocate_unmapped: bool,
    ) -> None:
        """Rebuild a hub from the backup set SOURCE into a new data directory and database, then verify the ledger."""
        settings = state.settings
        target_dir = (data_dir or settings.data_dir).resolve()
        try:
            manifest = Manifest.read(source)
            folder_maps = tuple(FolderMap.parse(text, target_dir) for text in maps)
        except ValueError as exc:
            fail(str(exc))
        if database_url is None:
            # The configured database, unless --data-dir moved the hub and it is SQLite: then the file goes with it.
            database_url = settings.database.url
            if data_dir is not None and database.is_sqlite(database_url):
                database_url = f"sqlite+aiosqlite:///{target_dir / database.SQLITE_NAME}"
        target = settings.model_copy(update={"data_dir": target_dir, "database": DatabaseSettings(url=database_url)})
        plan = FolderPlan(Path(manifest.data_dir), target_dir, folder_maps, relocate_unmapped)
        try:
            planned = plan_folders(manifest, plan)
            check_target(target, manifest, database_url)
        except RestoreRefused as exc:
            fail(str(exc), exc.details)
        click.echo(f"restoring the backup of {manifest.created_at} (original data directory {manifest.data_dir})")
        click.echo(f"  into {target_dir}, database {bootstrap.describe_database(database_url)}")
        click.echo("folders the restored hub will use:")
        for item in planned:
            entry, placement = item.entry, item.placement
            click.echo(
                f"  {entry.owner} {entry.code} {entry.column}: {placement.folder} ({_HOW.get(placement.how or '', '')})"
            )
        try:
            result = run(restore(source, manifest, target, plan))
        except RestoreRefused as exc:
            fail(str(exc), exc.details)
        except database.DatabaseCopyFailed as exc:
            fail(str(exc))
        for line in result.relocated_later:
            click.echo(f"  relocated (added after the backup listed folders): {line}")
        click.echo(f"blobs restored and checked: {result.blobs}")
        if result.intakes_moved:
            click.echo(f"drops in progress now looked for in the new folders: {result.intakes_moved}")
        assert result.ledger is not None
        click.echo(f"ledger: {result.ledger.summary()}")
        if not result.signatures_checked:
            click.echo(
                f"note: no {sources.where('signing key', target.signing_key)},"
                " so checkpoint signatures were not checked"
            )
        click.echo("restored. Before starting the hub:")
        click.echo(
            f"  provide {sources.where('the master key', target.master_key)}"
            f" and {sources.where('the signing key', target.signing_key)}"
        )
        shown_url = bootstrap.describe_database(database_url)
        click.echo(f"  configure data_dir = {str(target_dir)!r} and database.url = {shown_url!r}")
