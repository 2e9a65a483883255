"""``handover incidents …`` (C-18), ``handover access-report`` and ``handover access-review`` (C-11)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.registry import build_connectors
from exchange.cli.setup import CliState, with_sessions, write_out, write_report
from exchange.duties.scheduler import build_context
from exchange.oversight import access_log_analysis as access_analysis
from exchange.oversight import incidents
from ledger import reports
from ledger.models.base import utcnow
from ledger.models.oversight import Incident
from ledger.reports import access_log
from ledger.wareki import JST


def register(main: click.Group) -> None:
    @main.group("incidents")
    def incidents_group() -> None:
        """Incidents (C-18)."""

    @incidents_group.command("record")
    @click.option("--title", required=True)
    @click.option("--description", required=True)
    @click.option("--reported-by", required=True)
    @click.option("--discovered-at", type=click.DateTime(["%Y-%m-%dT%H:%M"]), required=True, help="JST.")
    @click.option("--package", "packages", multiple=True, help="Affected package id (repeat).")
    @click.option("--contract", "code", default=None)
    @click.option("--wrongful-purpose", is_flag=True, help="A wrongful purpose is suspected (60-day final report).")
    @click.pass_obj
    def record_incident(
        state: CliState,
        title: str,
        description: str,
        reported_by: str,
        discovered_at: datetime,
        packages: tuple[str, ...],
        code: str | None,
        wrongful_purpose: bool,
    ) -> None:
        """Record an incident and freeze the affected packages at once."""
        form = incidents.IncidentForm(
            title, description, reported_by, discovered_at.replace(tzinfo=JST), packages, code, wrongful_purpose
        )

        async def work(sessions: async_sessionmaker[AsyncSession]) -> Incident:
            return await incidents.open_incident(sessions, build_connectors(state.settings.connectors), form, utcnow())

        incident = with_sessions(state, work)
        click.echo(
            f"incident {incident.public_id}: {len(packages)} package(s) frozen; preliminary report due "
            f"{incident.preliminary_due_at.astimezone(JST):%Y-%m-%d %H:%M}, final "
            f"{incident.final_due_at.astimezone(JST):%Y-%m-%d %H:%M} (JST)"
        )

    @incidents_group.command("pdf")
    @click.argument("incident_id")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def incident_pdf(state: CliState, incident_id: str, out: Path) -> None:
        """Write the incident report PDF."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
            async with sessions() as session:
                incident = await session.scalar(select(Incident).where(Incident.public_id == incident_id))
                if incident is None:
                    raise ValueError(f"事故「{incident_id}」が見つかりません。")
                data = await incidents.incident_pdf(session, incident)
            await asyncio.to_thread(write_out, out, data)

        with_sessions(state, work)
        click.echo(f"wrote {out}")

    @main.command("access-report")
    @click.option("--fy", "year", type=click.IntRange(2000, 9999), required=True, help="Fiscal year, e.g. 2026.")
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="pdf", show_default=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def access_report(state: CliState, year: int, fmt: str, out: Path) -> None:
        """Analyse the fiscal year's audit log (new findings are kept) and write the findings report."""

        async def analyse(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
            start, end = access_analysis.fiscal_year_bounds(year)
            hours = build_context(state.settings, sessions, {}).config.business_hours
            return await access_analysis.analyse(sessions, min(end, utcnow()), hours=hours, since=start)

        with_sessions(state, analyse)
        write_report(state, lambda session: access_log.build(session, year), fmt, out)

    @main.command("access-review")
    @click.option("--fy", "year", type=click.IntRange(2000, 9999), required=True)
    @click.option("--by", required=True, help="The compliance officer.")
    @click.option("--comment", required=True)
    @click.pass_obj
    def access_review(state: CliState, year: int, by: str, comment: str) -> None:
        """Record that the fiscal year's findings were reviewed."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
            async with sessions() as session, session.begin():
                return (
                    await access_analysis.review(session, year, reviewed_by=by, comment=comment, now=utcnow())
                ).findings_reviewed

        click.echo(f"{with_sessions(state, work)} finding(s) marked reviewed")
