"""The ``handover`` command line: one group; each module registers the commands it is named after.

* ``setup`` — ``init``, ``config check``; the state and helpers every command module shares
* ``database`` — ``db upgrade``, ``db current``
* ``admin`` — ``admin import``, ``admin invite``, ``admin token create``
* ``routes`` — ``routes list``
* ``packages`` — ``package`` (one file by hand), ``packages list|show|acknowledge``
* ``password`` — ``password notice|email|notice-returned``
* ``media`` — ``media finalize|handover|return|overdue`` (DVDs)
* ``connectors`` — ``connectors check``
* ``dummy`` — ``dummy`` (dummy records for trials)
* ``ledger`` — ``ledger verify|prove|consistency|checkpoint|export``
* ``report`` — ``report handover|media|print``
* ``retention`` — ``retention sweep``, ``certificates request|submit|approve``, ``deletion-report``
* ``oversight`` — ``incidents record|pdf``, ``access-report``, ``access-review``
* ``duties`` — ``duties run``
* ``serve`` — ``serve``
"""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli import (
    admin,
    database,
    dummy,
    duties,
    media,
    oversight,
    packages,
    password,
    report,
    retention,
    routes,
    serve,
    setup,
)
from exchange.cli import connectors as connectors_commands
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


for module in (
    setup,
    database,
    admin,
    routes,
    packages,
    password,
    media,
    connectors_commands,
    dummy,
    ledger_commands,
    report,
    retention,
    oversight,
    duties,
    serve,
):
    module.register(main)
