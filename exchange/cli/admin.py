"""``handover admin import`` and ``handover routes list``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from exchange.admin import bootstrap, routes_view
from exchange.admin.data_import import ImportError_, import_files
from exchange.cli.setup import CliState, fail, run


def register(main: click.Group) -> None:
    @main.group("admin")
    def admin() -> None:
        """Administration."""

    @admin.command("import")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
    @click.pass_obj
    def import_(state: CliState, files: tuple[Path, ...]) -> None:
        """Load parties, people, programs, contracts and routes from TOML files (idempotent)."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                summary = await import_files(session, files, base_dir=state.settings.data_dir.resolve())
            parts = [f"{kind} +{n}" for kind, n in summary.created.items()]
            parts += [f"{kind} ~{n}" for kind, n in summary.updated.items()]
            return ", ".join(parts) or "nothing to import"

        try:
            click.echo(f"imported: {run(go())}")
        except ImportError_ as exc:
            fail("nothing was imported, because:", exc.problems)

    @main.group("routes")
    def routes() -> None:
        """Watched folders and where their files go."""

    @routes.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_obj
    def list_(state: CliState, as_json: bool) -> None:
        """Each route with its watched folder, contracts and recipients."""

        async def go() -> list[routes_view.RouteView]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                return await routes_view.list_routes(session)

        views = run(go())
        if as_json:
            click.echo(json.dumps([view.as_dict() for view in views], ensure_ascii=False, indent=2))
            return
        for view in views:
            click.echo(f"{view.code}  {view.name}")
            click.echo(f"  watched folder: {view.watch_dir}")
            for target in view.targets:
                people = ", ".join(f"{p.name}（{p.role}）" for p in target.recipients) or "（指定なし）"
                click.echo(f"  → {target.contract_name} [{target.party_name}] via {target.connector}: {people}")
