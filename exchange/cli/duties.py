"""``handover`` commands of the scheduled duties: retention, certificates, incidents, access review, reports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from exchange.delivery.connector_setup import connectors_from_settings
from exchange.duties.scheduler import DUTIES_BY_NAME, DutyRunner, build_context
from exchange.oversight import access_log_analysis as access_analysis
from exchange.oversight import incidents
from exchange.retention import contractor_certificates as contractor_certs
from exchange.retention import duty_reports
from exchange.retention import hub_certificate_files as certificate_files
from ledger import reports
from ledger.files import write_atomic
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.oversight import Incident
from ledger.models.retention import ErasureMethod
from ledger.reports.model import Report, ReportError
from ledger.wareki import JST

T = TypeVar("T")


def _with_sessions(state: CliState, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def go() -> T:
        async with bootstrap.open_engine(state.settings) as engine:
            return await work(bootstrap.sessions(engine))

    try:
        return run(go())
    except (ValueError, contractor_certs.SubmissionRefused) as exc:
        fail(str(exc))


def _write_out(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data, mode=None)


def _write_report(build: Callable[[AsyncSession], Awaitable[Report]], state: CliState, fmt: str, out: Path) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session:
            built = await build(session)
        data = await asyncio.to_thread(reports.render, built, fmt)
        await asyncio.to_thread(_write_out, out, data)
        return sum(len(section.rows) for section in built.sections)

    try:
        rows = _with_sessions(state, work)
    except ReportError as exc:
        fail(str(exc))
    click.echo(f"wrote {out} ({fmt}, {rows} rows)")


def _run_duty(state: CliState, name: str) -> dict[str, Any]:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        ctx = build_context(state.settings, sessions, connectors_from_settings(state.settings))
        result = await DutyRunner(ctx).run_now(name)
        if result is None:
            raise ValueError(f"{name} is running in another hub process; try again later")
        return result.result or {}

    return _with_sessions(state, work)


def register(main: click.Group) -> None:
    @main.group("duties")
    def duties() -> None:
        """Scheduled duties (they run by themselves in `handover serve`)."""

    @duties.command("run")
    @click.argument("name", type=click.Choice(sorted(DUTIES_BY_NAME)))
    @click.pass_obj
    def run_duty(state: CliState, name: str) -> None:
        """Run one duty now, unless another process is running it."""
        click.echo(f"{name}: {_run_duty(state, name)}")

    @main.group("retention")
    def retention() -> None:
        """Retention deadlines and hub-side deletion."""

    @retention.command("sweep")
    @click.pass_obj
    def sweep(state: CliState) -> None:
        """Erase every package whose retention deadline has passed; issue the certificate when all are gone."""
        click.echo(f"retention.sweep: {_run_duty(state, 'retention.sweep')}")

    @main.group("certificates")
    def certificates() -> None:
        """Deletion certificates: the hub's own and the contractors' (消去証明書)."""

    @certificates.command("request")
    @click.option("--contract", "code", required=True, help="Contract code; its sub-contracts are included.")
    @click.option("--due-days", type=click.IntRange(1, 365), default=30, show_default=True)
    @click.pass_obj
    def request(state: CliState, code: str, due_days: int) -> None:
        """Request certificates now from the contract's party and its sub-contractors."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
            async with sessions() as session, session.begin():
                contract = await session.scalar(select(Contract).where(Contract.code == code))
                if contract is None:
                    raise ValueError(f"契約コード「{code}」は登録されていません。")
                created, _ = await contractor_certs.request_certificates(
                    session, contract, utcnow(), reason="on_demand", due_days=due_days
                )
                return len(created)

        click.echo(f"{_with_sessions(state, work)} request(s) created")

    @certificates.command("submit")
    @click.option("--request", "request_id", required=True)
    @click.option("--package", "packages", multiple=True, required=True, help="Package id (repeat).")
    @click.option("--method", type=click.Choice([m.value for m in ErasureMethod]), required=True)
    @click.option("--erased-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--media", required=True)
    @click.option("--operator", required=True)
    @click.option("--verifier", required=True)
    @click.option("--scan", type=click.Path(exists=True, dir_okay=False), default=None)
    @click.pass_obj
    def submit(
        state: CliState,
        request_id: str,
        packages: tuple[str, ...],
        method: str,
        erased_on: datetime,
        media: str,
        operator: str,
        verifier: str,
        scan: str | None,
    ) -> None:
        """Record a contractor's certificate (as handed in on paper) and show what is still missing."""
        form = contractor_certs.Submission(
            packages, ErasureMethod(method), erased_on.date(), media, operator, verifier, scan_path=scan
        )

        async def work(sessions: async_sessionmaker[AsyncSession]) -> contractor_certs.Coverage:
            async with sessions() as session, session.begin():
                return await contractor_certs.submit(session, request_id, form, utcnow())

        coverage = _with_sessions(state, work)
        click.echo(
            "coverage complete"
            if coverage.complete
            else f"still missing: {len(coverage.missing)} package(s) from {', '.join(coverage.missing_parties)}"
        )

    @certificates.command("approve")
    @click.argument("number")
    @click.option("--by", required=True, help="Staff member who validates the hub's certificate.")
    @click.option("--comment", default="")
    @click.pass_obj
    def approve(state: CliState, number: str, by: str, comment: str) -> None:
        """Validate an issued hub deletion certificate."""
        directory = state.settings.data_dir / "certificates"
        _with_sessions(
            state, lambda s: certificate_files.approve(s, directory, number, by=by, comment=comment, at=utcnow())
        )
        click.echo(f"{number} validated by {by}")

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
            return await incidents.open_incident(sessions, connectors_from_settings(state.settings), form, utcnow())

        incident = _with_sessions(state, work)
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
            await asyncio.to_thread(_write_out, out, data)

        _with_sessions(state, work)
        click.echo(f"wrote {out}")

    @main.command("deletion-report")
    @click.option("--contract", "code", required=True, help="Contract code; its sub-contracts are included.")
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), required=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def deletion_report(state: CliState, code: str, fmt: str, out: Path) -> None:
        """Outstanding and completed deletions and certificates of a contract and its sub-contracts."""
        _write_report(lambda session: duty_reports.deletion_report(session, code), state, fmt, out)

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

        _with_sessions(state, analyse)
        _write_report(lambda session: duty_reports.access_report(session, year), state, fmt, out)

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

        click.echo(f"{_with_sessions(state, work)} finding(s) marked reviewed")
