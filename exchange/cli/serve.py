"""``handover serve``: run the hub, or some of its roles (``--role web,worker,scheduler``), until interrupted."""

from __future__ import annotations

import click

from exchange import hub
from exchange.cli.setup import CliState, run
from exchange.roles import ALL_ROLES, UnknownRole, parse_roles


def register(main: click.Group) -> None:
    @main.command("serve")
    @click.option("--demo", is_flag=True, help="Initialise if needed and import the demo contracts (dummy data).")
    @click.option("--host", default=None, help="Listen address (default from configuration).")
    @click.option("--port", type=int, default=None, help="Listen port (default from configuration).")
    @click.option(
        "--role",
        "roles",
        multiple=True,
        metavar="ROLE[,ROLE…]",
        help=f"What this process runs: {', '.join(ALL_ROLES)}; comma-separated or repeated"
        " (default: serve.roles from configuration, else all three).",
    )
    @click.pass_obj
    def serve(state: CliState, demo: bool, host: str | None, port: int | None, roles: tuple[str, ...]) -> None:
        """Run the hub until interrupted (SIGINT or SIGTERM)."""
        try:
            chosen = parse_roles(roles)
        except UnknownRole as exc:
            raise click.BadParameter(str(exc), param_hint="'--role'") from None
        run(hub.serve(state.settings, demo=demo, host=host, port=port, roles=chosen, echo=click.echo))
