"""``handover routes list``: each watched folder, the contracts its files go to, and the designated recipients."""

from __future__ import annotations

import json

import click

from exchange.admin import bootstrap, routes_view
from exchange.cli.setup import CliState, run


def register(main: click.Group) -> None:
    @main.group("routes")
    def routes() -> None:
        """Watched folders and where their files go."""

    @routes.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_obj
    def list_(state: CliState, as_json: bool) -> None:
        """Each route with its watched folder, contracts and recipients."""

        data_dir = state.settings.data_dir.resolve()

        async def go() -> list[routes_view.RouteView]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                return await routes_view.list_routes(session, data_dir)

        views = run(go())
        if as_json:
            click.echo(json.dumps([view.as_dict() for view in views], ensure_ascii=False, indent=2))
            return
        for view in views:
            click.echo(f"{view.code}  {view.name}")
            click.echo(f"  watched folder: {view.watch_dir}")
            screening = "項目名と値" if view.scan_values else "項目名のみ"
            click.echo(f"  要配慮事項の確認: {screening}")
            for target in view.targets:
                people = ", ".join(f"{p.name}（{p.role}）" for p in target.recipients) or "（指定なし）"
                click.echo(f"  → {target.contract_name} [{target.party_name}] via {target.connector}: {people}")
                click.echo(f"      提供項目: {'、'.join(target.items) or '（なし）'}")
