"""The ``handover`` command line: one group; each module registers the commands it is named after.

* ``setup`` — ``init``, ``config check``; the state and helpers every command module shares
* ``database`` — ``db upgrade``, ``db current``, ``db move-sealed-files``
* ``keys`` — ``keys generate|status|rotate`` (master keys and their rotation)
* ``admin`` — ``admin import|invite|invite-handed``, ``admin asp-credentials record|list``, ``admin token create``
* ``accounts`` — ``accounts list|show|disable|enable|unlock|end-sessions|tokens|revoke-token`` (C-10)
* ``routes`` — ``routes list``
* ``packages`` — ``package`` (one file by hand), ``packages list|show|acknowledge|adopt-store``
* ``password`` — ``password notice|email|notice-returned``
* ``media`` — ``media finalize|handover|return|overdue`` (DVDs)
* ``subcontracts`` — ``subcontracts approve|revoke|show`` (the ward's approval of a sub-contract)
* ``sensitive`` — ``sensitive approve|list`` (the ward's approvals for forbidden-category items)
* ``connectors`` — ``connectors check``
* ``dummy`` — ``dummy`` (dummy records for trials)
* ``ledger`` — ``ledger verify|prove|consistency|checkpoint|export``
* ``report`` — ``report handover|media|print``
* ``retention`` — ``retention sweep``, ``certificates request|submit|approve``, ``deletion-report``
* ``oversight`` — ``access-report``, ``access-review``
* ``incidents`` — ``incidents record|list|show|filed|message|unfreeze|close|pdf`` (C-18)
* ``inspections`` — ``inspections list|record|report|attachment`` (C-19)
* ``retention`` — ``retention sweep``, ``certificates request|submit|list|accept|return|approve``, ``deletion-report``
* ``oversight`` — ``incidents record|pdf``, ``access-report``, ``access-review``
* ``printing`` — ``printing findings|deliveries|confirm|paper`` (print logs, sealed notices, paper hand-overs)
* ``duties`` — ``duties run``
* ``inbound`` — ``inbound list|show|fetch|release|discard`` (what contractors sent back, for ward staff)
* ``quarantine`` — ``quarantine list|show|release|discard|download`` (drops the intake set aside, sealed)
* ``serve`` — ``serve [--role web,worker,scheduler]``
* ``health`` — ``health [--role …]`` (are processes of each role alive and progressing; exit status for monitoring)
* ``reference`` — ``reference load|remove`` (the ward's data that returned records are checked against)
* ``backup`` — ``backup``, ``restore`` (a consistent backup set and a hub rebuilt from one, C-13)
"""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli import (
    accounts,
    admin,
    backup,
    database,
    dummy,
    duties,
    health,
    inbound,
    incidents,
    inspections,
    keys,
    media,
    oversight,
    packages,
    password,
    printing,
    quarantine,
    reference,
    report,
    retention,
    routes,
    sensitive,
    serve,
    setup,
    subcontracts,
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
    keys,
    admin,
    accounts,
    routes,
    packages,
    password,
    media,
    subcontracts,
    sensitive,
    connectors_commands,
    dummy,
    ledger_commands,
    report,
    retention,
    oversight,
    incidents,
    inspections,
    printing,
    duties,
    inbound,
    quarantine,
    serve,
    health,
    reference,
    backup,
):
    module.register(main)
