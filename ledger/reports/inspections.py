"""Rows of the inspection report (C-19): one fiscal year's inspections of every contract, done or not.

The rows are made by ``exchange.oversight.inspections`` (the daily duty and the recorded results); this module
only reads them. A sub-contract inspected by its contractor names that contractor as the inspecting party.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.oversight import Inspection
from ledger.models.parties import Party
from ledger.reports.model import Cell, Column, Report, Section, wareki_date_cell, wareki_datetime_cell
from ledger.reports.model import fiscal_year_label as fy_label

TITLE = "実地検査の実施状況"
COLUMNS = (
    Column("契約", 18),
    Column("相手方", 16),
    Column("期限", 12),
    Column("実施日", 12),
    Column("検査した者", 16),
    Column("結果", 8),
    Column("所見", 30),
    Column("記録", 20),
    Column("添付", 14),
)


async def build(session: AsyncSession, year: int, *, now: datetime | None = None) -> Report:
    inspections = (
        await session.scalars(
            select(Inspection)
            .where(Inspection.fiscal_year == year)
            .options(selectinload(Inspection.contract).selectinload(Contract.party))
            .join(Contract, Inspection.contract_id == Contract.id)
            .order_by(Contract.code)
        )
    ).all()
    parties = {party.id: party.name for party in (await session.scalars(select(Party))).all()}
    rows: list[tuple[Cell, ...]] = []
    for row in inspections:
        contract = row.contract
        by_party = parties.get(row.inspected_by_party_id, "") if row.inspected_by_party_id else "区"
        rows.append(
            (
                f"{contract.name}（{contract.code}）",
                contract.party.name,
                wareki_date_cell(row.due_on),
                wareki_date_cell(row.performed_on) or "未実施",
                f"{row.inspector}（{by_party}）" if row.inspector else "",
                row.result or "",
                row.findings or "",
                f"{row.recorded_by}（{wareki_datetime_cell(row.recorded_at)}）" if row.recorded_at else "",
                row.attachment_name or "",
            )
        )
    done = sum(1 for row in inspections if row.recorded_at is not None)
    return Report(
        title=TITLE,
        columns=COLUMNS,
        filters=(f"年度: {fy_label(year)}", f"実施済み {done}件／対象 {len(inspections)}件"),
        sections=(Section(str(year), f"{fy_label(year)}の実地検査（{len(rows)}件）", rows),),
        created_at=now or utcnow(),
    )
