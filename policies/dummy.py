"""Dummy data files per program (C-15: tests and demos use dummy data only).

The rows come from the program's plugin through the ``dummy_records`` hook, so a third-party program gets
``handover dummy`` for free by implementing it; the people are synthetic (:mod:`policies.dummy_people`).
"""

from __future__ import annotations

from pathlib import Path

from policies.pluginmanager import HandoverPlugins, build_plugin_manager
from policies.tabular import TableFormat, create_table


class UnknownProgramError(LookupError):
    """No enabled plugin produces dummy data for the program."""


def write_dummy_csv(
    program: str,
    rows: int,
    out: Path,
    encoding: str = "utf-8-sig",
    *,
    seed: int = 0,
    plugins: HandoverPlugins | None = None,
) -> int:
    """Write ``rows`` dummy records of ``program`` to ``out`` as CSV (``utf-8-sig`` or ``cp932``); return
    the number written. ``seed`` makes the file reproducible."""
    hooks = (plugins or build_plugin_manager()).for_program(program)
    table = hooks.dummy_records(rows, seed)
    if table is None:
        raise UnknownProgramError(f"no enabled plugin produces dummy data for program {program!r}")
    with create_table(out, TableFormat("csv", encoding), table.columns) as writer:
        for row in table.rows:
            writer.write(row)
    return writer.count
