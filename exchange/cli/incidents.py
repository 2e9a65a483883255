"""``handover incidents …`` (C-18): record, list, show, the PPC filings, instructions and answers, unfreeze, close,
and the report PDF. Every change names the person who made it (``--by``) on its register line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.registry import build_connectors
from exchange.cli.setup import CliState, with_sessions, write_out
from exchange.identity import audit_log as audit
from exchange.identity.authorisation import Action
from exchange.oversight import incident_records, incidents
from ledger.models.base import utcnow
from ledger.models.oversight import Incident, IncidentPackage
from ledger.wareki import format_jst, parse_jst

T = TypeVar("T")
JST_MINUTES = click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
BY = click.option("--by", required=True, help="The person acting (name and section), for the register.")


async def find_incident(session: AsyncSession, public_id: str) -> Incident:
    incident = await session.scalar(
        select(Incident)
        .where(Incident.public_id == public_id)
        .options(
            selectinload(Incident.packages).selectinload(IncidentPackage.package),
            selectinload(Incident.messages),
            selectinload(Incident.contract),
        )
    )
    if incident is None:
        raise ValueError(f"事故「{public_id}」が見つかりません。")
    return incident


def _change(
    state: CliState, incident_id: str, op: str, by: str, work: Callable[[AsyncSession, Incident], Awaitable[T]]
) -> T:
    """One change to one incident, in one transaction with its audit event (no account acts from the command line:
    the person is named in the event, as ``handover accounts`` does); a refusal (ValueError) ends the command."""

    async def go(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with sessions() as session, session.begin():
            result = await work(session, await find_incident(session, incident_id))
            audit.record(
                session,
                audit.ANONYMOUS,
                None,
                Action.INCIDENT_MANAGE,
                "allowed",
                object_type="incident",
                object_id=incident_id,
                detail={"by": by, "op": op, "via": "cli"},
            )
            return result

    return with_sessions(state, go)


def _summary(incident: Incident) -> dict[str, Any]:
    counts = incident_records.affected([row.package for row in incident.packages])
    return {
        "id": incident.public_id,
        "title": incident.title,
        "contract": incident.contract.code if incident.contract else None,
        "reported_by": incident.reported_by,
        "discovered_at_jst": format_jst(incident.discovered_at),
        "preliminary_due_jst": format_jst(incident.preliminary_due_at),
        "preliminary_reported_jst": format_jst(incident.preliminary_reported_at, empty=""),
        "final_due_jst": format_jst(incident.final_due_at),
        "final_reported_jst": format_jst(incident.final_reported_at, empty=""),
        "closed_jst": format_jst(incident.closed_at, empty=""),
        "records": counts.records,
        "people": counts.people,
        "packages": [
            {"zip": row.package.zip_name, "endpoint": row.access_removed, "unfrozen": row.unfrozen_at is not None}
            for row in incident.packages
        ],
        "messages": [{"kind": m.kind, "author": m.author, "body": m.body} for m in incident.messages],
    }


def register(main: click.Group) -> None:
    @main.group("incidents")
    def incidents_group() -> None:
        """Incidents (C-18)."""

    @incidents_group.command("record")
    @click.option("--title", required=True)
    @click.option("--description", required=True)
    @click.option("--reported-by", required=True)
    @click.option("--discovered-at", type=JST_MINUTES, required=True, help="Japan time: YYYY-MM-DDTHH:MM.")
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
            title, description, reported_by, parse_jst(discovered_at), packages, code, wrongful_purpose
        )

        async def work(sessions: async_sessionmaker[AsyncSession]) -> Incident:
            connectors = build_connectors(state.settings.connectors)
            incident = await incidents.open_incident(sessions, connectors, form, utcnow())
            async with sessions() as session, session.begin():
                detail = {"by": reported_by, "op": "open", "packages": len(packages), "via": "cli"}
                audit.record(
                    session,
                    audit.ANONYMOUS,
                    None,
                    Action.INCIDENT_MANAGE,
                    "allowed",
                    object_type="incident",
                    object_id=incident.public_id,
                    detail=detail,
                )
            return incident

        incident = with_sessions(state, work)
        click.echo(
            f"事故 {incident.public_id} を記録し、データ{len(packages)}件を凍結しました。"
            f"速報の期限 {format_jst(incident.preliminary_due_at)}、"
            f"確報の期限 {format_jst(incident.final_due_at)}（日本時間）"
        )

    @incidents_group.command("list")
    @click.pass_obj
    def list_incidents(state: CliState) -> None:
        """Incidents as JSON lines, newest first."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
            async with sessions() as session:
                ids = (await session.scalars(select(Incident.public_id).order_by(Incident.id.desc()))).all()
                return [_summary(await find_incident(session, public_id)) for public_id in ids]

        for row in with_sessions(state, work):
            click.echo(json.dumps(row, ensure_ascii=False))

    @incidents_group.command("show")
    @click.argument("incident_id")
    @click.pass_obj
    def show(state: CliState, incident_id: str) -> None:
        """One incident as JSON, with the counts from its packages' manifests."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
            async with sessions() as session:
                return _summary(await find_incident(session, incident_id))

        click.echo(json.dumps(with_sessions(state, work), ensure_ascii=False, indent=2))

    @incidents_group.command("filed")
    @click.argument("incident_id")
    @click.argument("which", type=click.Choice(["preliminary", "final"]))
    @click.option("--at", type=JST_MINUTES, required=True, help="When it was filed, Japan time.")
    @click.option("--reference", required=True, help="The PPC's receipt number or the document number.")
    @BY
    @click.pass_obj
    def filed(state: CliState, incident_id: str, which: str, at: datetime, reference: str, by: str) -> None:
        """Record that the preliminary (速報) or final (確報) report was filed with the PPC."""

        async def work(session: AsyncSession, incident: Incident) -> None:
            await incidents.record_report(session, incident, which, parse_jst(at), by=by, reference=reference)

        _change(state, incident_id, "filing", by, work)
        click.echo(f"{incidents.REPORT_LABELS[which]}の提出を記録しました（{reference}）。")

    @incidents_group.command("message")
    @click.argument("incident_id")
    @click.argument("kind", type=click.Choice(list(incident_records.MESSAGE_KINDS)))
    @click.option("--text", "body", required=True)
    @BY
    @click.pass_obj
    def message(state: CliState, incident_id: str, kind: str, body: str, by: str) -> None:
        """Record the ward's instruction to the contractor, or the contractor's answer (taken by phone, say)."""

        async def work(session: AsyncSession, incident: Incident) -> None:
            await incident_records.add_message(session, incident, kind, body, author=by, party_id=None, now=utcnow())

        _change(state, incident_id, "message", by, work)
        click.echo(f"{incident_records.MESSAGE_KINDS[kind]}を記録しました。")

    @incidents_group.command("unfreeze")
    @click.argument("incident_id")
    @click.option("--package", "package_id", required=True)
    @click.option("--reason", required=True)
    @BY
    @click.pass_obj
    def unfreeze(state: CliState, incident_id: str, package_id: str, reason: str, by: str) -> None:
        """Release one frozen package, with the reason."""

        async def work(session: AsyncSession, incident: Incident) -> None:
            await incident_records.unfreeze(session, incident, package_id, by=by, reason=reason, now=utcnow())

        _change(state, incident_id, "unfreeze", by, work)
        click.echo("凍結を解除しました。")

    @incidents_group.command("close")
    @click.argument("incident_id")
    @click.option(
        "--note", required=True, help="What was found and done; why no PPC report is owed, if none was filed."
    )
    @BY
    @click.pass_obj
    def close(state: CliState, incident_id: str, note: str, by: str) -> None:
        """Close the incident (its deadline reminders stop)."""

        async def work(session: AsyncSession, incident: Incident) -> None:
            await incident_records.close(session, incident, by=by, note=note, now=utcnow())

        _change(state, incident_id, "close", by, work)
        click.echo("事故を終結しました。")

    @incidents_group.command("pdf")
    @click.argument("incident_id")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def incident_pdf(state: CliState, incident_id: str, out: Path) -> None:
        """Write the incident report PDF."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
            async with sessions() as session:
                data = await incident_records.incident_pdf(session, await find_incident(session, incident_id))
            await asyncio.to_thread(write_out, out, data)

        with_sessions(state, work)
        click.echo(f"{out} に出力しました。")
