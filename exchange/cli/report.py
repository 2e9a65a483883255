"""``handover report``: the handover register, media register and print-log findings as PDF, XLSX or CSV."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import click

from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from ledger import reports
from ledger.files import write_atomic
from ledger.reports.csvfile import ENCODINGS


def register(main: click.Group) -> None:
    @main.command("report")
    @click.argument("kind", type=click.Choice(list(reports.KINDS)))
    @click.option("--contract", help="Contract code.")
    @click.option("--program", help="Program code (業務).")
    @click.option("--party", help="Party code of the contractor or sub-contractor.")
    @click.option("--fy", "fiscal_year", type=click.IntRange(1873, 9999), help="Fiscal year (年度), e.g. 2026.")
    @click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day (JST), YYYY-MM-DD.")
    @click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (JST), YYYY-MM-DD.")
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), help="Default: from --out's suffix.")
    @click.option("--encoding", type=click.Choice(ENCODINGS), default="utf-8-sig", show_default=True, help="CSV only.")
    @click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def report(
        state: CliState,
        kind: str,
        contract: str | None,
        program: str | None,
        party: str | None,
        fiscal_year: int | None,
        date_from: datetime | None,
        date_to: datetime | None,
        fmt: str | None,
        encoding: str,
        out: Path,
    ) -> None:
        """Write KIND (handover, media or print) for the chosen contracts and period to --out."""
        chosen = fmt or out.suffix.lower().lstrip(".")
        if chosen not in reports.FORMATS:
            fail(f"choose --format {'|'.join(reports.FORMATS)} (the suffix of {out.name} does not say)")

        async def go() -> int:
            flt = reports.ReportFilter(
                contract=contract,
                program=program,
                party=party,
                fiscal_year=fiscal_year,
                date_from=date_from.date() if date_from else None,
                date_to=date_to.date() if date_to else None,
            )
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                built = await reports.build(session, kind, flt)
            data = await asyncio.to_thread(reports.render, built, chosen, encoding=encoding)
            # Atomic, so a failed run never leaves half a report under the asked name.
            await asyncio.to_thread(write_atomic, out, data, mode=None)
            return sum(len(section.rows) for section in built.sections)

        try:
            rows = run(go())
        except reports.ReportError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{out} cannot be written: {exc.strerror or exc}")
        click.echo(f"wrote {out} ({chosen}, {rows} rows)")
