"""The ``handover`` command line: one group, with each family of commands in its own module."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli import admin, database, duties, media, packages, portal_admin, report, serve, setup, tools
from exchange.cli import ledger as ledger_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Configuration file (default: config/hub.toml if present, else built-in defaults).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """handover — secure hand-over of personal data between a ward and its contractors."""
    ctx.obj = setup.CliState(config_path)


for module in (setup, database, admin, portal_admin, packages, media, tools, ledger_commands, report, duties, serve):
    module.register(main)
