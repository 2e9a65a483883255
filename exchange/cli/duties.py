"""``handover duties run``: run one scheduled duty now (``handover serve`` runs them by itself)."""

from __future__ import annotations

import click

from exchange.cli.setup import CliState, run_duty
from exchange.duties.scheduler import DUTIES_BY_NAME


def register(main: click.Group) -> None:
    @main.group("duties")
    def duties() -> None:
        """Scheduled duties (they run by themselves in `handover serve`)."""

    @duties.command("run")
    @click.argument("name", type=click.Choice(sorted(DUTIES_BY_NAME)))
    @click.pass_obj
    def run_(state: CliState, name: str) -> None:
        """Run one duty now, unless another process is running it."""
        click.echo(f"{name}: {run_duty(state, name)}")
