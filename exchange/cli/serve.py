"""``handover serve``: run the hub (portal, intake, workers, scheduler) in one process."""

from __future__ import annotations

import click

from exchange import hub
from exchange.cli.setup import CliState, run


def register(main: click.Group) -> None:
    @main.command("serve")
    @click.option("--demo", is_flag=True, help="Initialise if needed and import the demo contracts (dummy data).")
    @click.option("--host", default=None, help="Listen address (default from configuration).")
    @click.option("--port", type=int, default=None, help="Listen port (default from configuration).")
    @click.pass_obj
    def serve(state: CliState, demo: bool, host: str | None, port: int | None) -> None:
        """Run the hub until interrupted."""
        run(hub.serve(state.settings, demo=demo, host=host, port=port, echo=click.echo))
