"""``handover inspections …`` (C-19): the fiscal year's inspections, recording a result (with its report file,
sealed at rest), the inspection report as PDF/XLSX/CSV, and reading an attached file back."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.cli.setup import CliState, blob_store, with_sessions, write_report
from exchange.identity import audit_log as audit
from exchange.identity.authorisation import Action
from exchange.keys import sealing, sources
from exchange.oversight import attachments, inspections
from ledger import reports
from ledger.files import write_atomic
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.oversight import Inspection
from ledger.models.parties import Party
from ledger.reports import inspections as inspection_report
from ledger.wareki import fiscal_year, format_jst, jst_date

YEAR = click.IntRange(2000, 9999)


async def _contract(session: AsyncSession, code: str) -> Contract:
    contract = await session.scalar(select(Contract).where(Contract.code == code))
    if contract is None:
        raise ValueError(f"契約「{code}」が見つかりません。")
    return contract


def _write_private(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data)


async def _keyring(state: CliState) -> sealing.Keyring:
    return await asyncio.to_thread(sources.hub_keyring, state.settings)


def register(main: click.Group) -> None:
    @main.group("inspections")
    def inspections_group() -> None:
        """Yearly inspections of contractors and sub-contractors (C-19)."""

    @inspections_group.command("list")
    @click.option("--fy", "year", type=YEAR, help="Fiscal year (default: this one).")
    @click.pass_obj
    def list_inspections(state: CliState, year: int | None) -> None:
        """The fiscal year's inspections as JSON lines (the year's rows are created first, as the duty does)."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
            now = utcnow()
            chosen = year or fiscal_year(jst_date(now))
            async with sessions() as session, session.begin():
                if chosen == fiscal_year(jst_date(now)):
                    await inspections.ensure_inspections(session, jst_date(now))
                rows = (
                    await session.scalars(
                        select(Inspection)
                        .where(Inspection.fiscal_year == chosen)
                        .options(selectinload(Inspection.contract))
                        .order_by(Inspection.id)
                    )
                ).all()
                return [
                    {
                        "id": row.public_id,
                        "contract": row.contract.code,
                        "due_on": row.due_on.isoformat(),
                        "performed_on": row.performed_on.isoformat() if row.performed_on else None,
                        "inspector": row.inspector,
                        "result": row.result,
                        "recorded_by": row.recorded_by,
                        "recorded_jst": format_jst(row.recorded_at, empty=""),
                        "attachment": row.attachment_name,
                    }
                    for row in rows
                ]

        for row in with_sessions(state, work):
            click.echo(json.dumps(row, ensure_ascii=False))

    @inspections_group.command("record")
    @click.argument("contract_code")
    @click.option("--performed-on", type=click.DateTime(["%Y-%m-%d"]), required=True, help="YYYY-MM-DD (JST).")
    @click.option("--inspector", required=True)
    @click.option("--result", type=click.Choice(inspections.RESULTS), required=True)
    @click.option("--findings", default="", help="What was found (所見).")
    @click.option("--attachment", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None)
    @click.option(
        "--inspected-by",
        "party_code",
        default=None,
        help="Party code of the contractor that inspected its sub-contractor (default: the ward).",
    )
    @click.option("--by", required=True, help="The person recording it, for the register.")
    @click.pass_obj
    def record(
        state: CliState,
        contract_code: str,
        performed_on: datetime,
        inspector: str,
        result: str,
        findings: str,
        attachment: Path | None,
        party_code: str | None,
        by: str,
    ) -> None:
        """Record an inspection's result; the fiscal year is the one of --performed-on. Settles the reminder."""
        day: date = performed_on.date()

        async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
            async with sessions() as session, session.begin():
                contract = await _contract(session, contract_code)
                party_id = None
                if party_code is not None:
                    party = await session.scalar(select(Party).where(Party.code == party_code))
                    parent = await session.get(Contract, contract.parent_id) if contract.parent_id else None
                    if party is None or parent is None or parent.party_id != party.id:
                        raise ValueError("検査した事業者は、この再委託契約の委託元（受託者）を指定してください。")
                    party_id = party.id
                row = await inspections.inspection_for(session, contract, fiscal_year(day))
                sealed = None
                if attachment is not None:
                    data = await asyncio.to_thread(attachment.read_bytes)
                    try:
                        async with blob_store(state.settings) as blobs:
                            keyring = await _keyring(state)
                            sealed = await attachments.seal_attachment(
                                keyring, blobs, row.public_id, attachment.name, data
                            )
                    except attachments.AttachmentRefused as exc:
                        raise ValueError(str(exc)) from None
                form = inspections.InspectionResult(day, inspector, result, findings, by, party_id)
                await inspections.record_result(session, row, form, now=utcnow(), attachment=sealed)
                audit.record(
                    session,
                    audit.ANONYMOUS,
                    None,
                    Action.INSPECTION_RECORD,
                    "allowed",
                    object_type="inspection",
                    object_id=row.public_id,
                    detail={"by": by, "result": result, "via": "cli"},
                )
                return row.public_id

        click.echo(f"検査結果を記録しました（{with_sessions(state, work)}）。")

    @inspections_group.command("report")
    @click.option("--fy", "year", type=YEAR, required=True)
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="pdf", show_default=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def report(state: CliState, year: int, fmt: str, out: Path) -> None:
        """Write the fiscal year's inspection report."""
        write_report(state, lambda session: inspection_report.build(session, year), fmt, out)

    @inspections_group.command("attachment")
    @click.argument("inspection_id")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def attachment(state: CliState, inspection_id: str, out: Path) -> None:
        """Write an inspection's attached report file, unsealed, to --out (private file mode)."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
            async with sessions() as session:
                row = await session.scalar(select(Inspection).where(Inspection.public_id == inspection_id))
            if row is None or row.attachment_key is None:
                raise ValueError("添付ファイルのある検査が見つかりません。")
            async with blob_store(state.settings) as blobs:
                data = await attachments.open_attachment(
                    await _keyring(state), blobs, row.attachment_key, row.public_id
                )
            await asyncio.to_thread(_write_private, out, data)

        with_sessions(state, work)
        click.echo(f"{out} に出力しました。")
