"""``handover access-report`` and ``handover access-review`` (C-11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.cli.setup import CliState, with_sessions, write_report
from exchange.duties.scheduler import build_context
from exchange.identity.acting import principal_by_code
from exchange.identity.authorisation import Action, decide
from exchange.oversight import access_log_analysis as access_analysis
from ledger import reports
from ledger.models.base import utcnow
from ledger.reports import access_log


def register(main: click.Group) -> None:
    @main.command("access-report")
    @click.option("--fy", "year", type=click.IntRange(2000, 9999), required=True, help="Fiscal year, e.g. 2026.")
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="pdf", show_default=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def access_report(state: CliState, year: int, fmt: str, out: Path) -> None:
        """Analyse the fiscal year's audit log (new findings are kept) and write the findings report."""

        async def analyse(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
            start, end = access_analysis.fiscal_year_bounds(year)
            hours = build_context(state.settings, sessions, {}, blobs=None).config.business_hours
            return await access_analysis.analyse(sessions, min(end, utcnow()), hours=hours, since=start)

        with_sessions(state, analyse)
        write_report(state, lambda session: access_log.build(session, year), fmt, out)

    @main.command("access-review")
    @click.option("--fy", "year", type=click.IntRange(2000, 9999), required=True)
    @click.option("--by", required=True, help="The compliance officer's login or person code (a real account).")
    @click.option("--comment", required=True)
    @click.pass_obj
    def access_review(state: CliState, year: int, by: str, comment: str) -> None:
        """Record that the fiscal year's findings were reviewed, as the compliance officer ``--by`` names."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
            async with sessions() as session, session.begin():
                reviewer = await principal_by_code(session, by)
                decision = decide(reviewer, Action.ACCESS_REVIEW)
                if not decision.allowed:
                    raise ValueError(decision.reason_ja)
                return (
                    await access_analysis.review(session, year, reviewer=reviewer, comment=comment, now=utcnow())
                ).findings_reviewed

        click.echo(f"{with_sessions(state, work)}件の分析結果を確認済みにしました（{year}年度）")
