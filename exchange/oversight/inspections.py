"""Yearly inspections of contractors and sub-contractors (C-19).

Every contract that is in force during a fiscal year (April–March) gets one inspection due by the end of that
year, or by the contract's end if sooner. The daily duty creates the rows, reminds staff a month before the due
date and escalates once when it has passed; ``record_result`` stores date, inspector, findings and the sealed report
file, which settles the reminder. The ward records its own inspections (staff page, ``handover inspections
record``); a contractor records its inspection of its sub-contractor (乙→丙) on the sub-contract's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
from exchange.oversight.attachments import Sealed
from ledger.models.contracts import Contract
from ledger.models.duties import NoticeAudience
from ledger.models.oversight import Inspection
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import fiscal_year, jst_date, to_wareki

REMIND_BEFORE = timedelta(days=30)
RESULTS = ("適合", "要改善")


def inspection_due(contract: Contract, year: int) -> date:
    return min(date(year + 1, 3, 31), contract.ends_on)


async def ensure_inspections(session: AsyncSession, today: date) -> list[Inspection]:
    """The inspection row of every contract in force in this fiscal year, created where missing."""
    year = fiscal_year(today)
    start, end = date(year, 4, 1), date(year + 1, 3, 31)
    contracts = (
        await session.scalars(select(Contract).where(Contract.starts_on <= end, Contract.ends_on >= start))
    ).all()
    existing = {
        row.contract_id: row
        for row in (await session.scalars(select(Inspection).where(Inspection.fiscal_year == year))).all()
    }
    for contract in contracts:
        if contract.id not in existing:
            row = Inspection(contract_id=contract.id, fiscal_year=year, due_on=inspection_due(contract, year))
            session.add(row)
            existing[contract.id] = row
    await session.flush()
    return list(existing.values())


async def inspection_for(session: AsyncSession, contract: Contract, year: int) -> Inspection:
    """The contract's inspection row for fiscal ``year``, created when the duty has not made it yet."""
    row = await session.scalar(
        select(Inspection).where(Inspection.contract_id == contract.id, Inspection.fiscal_year == year)
    )
    if row is None:
        row = Inspection(contract_id=contract.id, fiscal_year=year, due_on=inspection_due(contract, year))
        session.add(row)
        await session.flush()
    return row


@dataclass(frozen=True)
class InspectionResult:
    performed_on: date
    inspector: str
    result: str
    findings: str
    recorded_by: str
    inspected_by_party_id: int | None = None  # None: the ward


async def record_result(
    session: AsyncSession,
    inspection: Inspection,
    form: InspectionResult,
    *,
    now: datetime,
    attachment: Sealed | None = None,
) -> None:
    if form.result not in RESULTS:
        raise ValueError(f"結果は{'・'.join(RESULTS)}のいずれかを選んでください。")
    if not form.inspector.strip():
        raise ValueError("検査者を入力してください。")
    if form.performed_on > jst_date(now):
        raise ValueError("実施日に未来の日付は入力できません。")
    contract = await session.get(Contract, inspection.contract_id)
    assert contract is not None
    inspection.performed_on = form.performed_on
    inspection.inspector = form.inspector.strip()
    inspection.result = form.result
    inspection.findings = form.findings.strip()
    inspection.recorded_at = now
    inspection.recorded_by = form.recorded_by
    inspection.inspected_by_party_id = form.inspected_by_party_id
    if attachment is not None:
        inspection.attachment_name = attachment.name
        inspection.attachment_key = attachment.key
        inspection.attachment_sha256 = attachment.sha256
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INSPECTION_RECORDED,
            category=Category.ADMIN,
            content=(
                f"{inspection.fiscal_year}年度の実地検査を記録（{to_wareki(form.performed_on)}、"
                f"検査者 {inspection.inspector}、{form.result}）"
            ),
            contract_id=contract.public_id,
            handler_from=form.recorded_by,
            handler_to=contract.name,
            details={
                "inspection_id": inspection.public_id,
                "findings": inspection.findings,
                "attachment_sha256": inspection.attachment_sha256,
            },
        ),
    )


async def remind(sessions: async_sessionmaker[AsyncSession], now: datetime, *, mailer: Mailer | None) -> dict[str, Any]:
    today = jst_date(now)
    notices: list[NewNotice] = []
    overdue = []
    async with sessions() as session, session.begin():
        await ensure_inspections(session, today)
        pending = (
            await session.scalars(
                select(Inspection).where(Inspection.recorded_at.is_(None)).options(selectinload(Inspection.contract))
            )
        ).all()
        for row in pending:
            contract, due = row.contract, to_wareki(row.due_on)
            occasion = None
            if today > row.due_on:
                occasion, subject = "overdue", f"【要対応】{row.fiscal_year}年度の検査が未実施です"
                overdue.append(row.public_id)
            elif today >= row.due_on - REMIND_BEFORE:
                occasion, subject = "before-due", f"{row.fiscal_year}年度の検査期限が近づいています"
            if occasion is None:
                continue
            notice = await notify(
                session,
                kind=NoticeKind.INSPECTION_REMINDER,
                subject_id=row.public_id,
                occasion=occasion,
                audience=NoticeAudience.WARD,
                contract=contract,
                subject=subject,
                message_ja=(
                    f"契約「{contract.name}」の{row.fiscal_year}年度の検査（期限 {due}）を実施し、"
                    "結果を実地検査の画面（/staff/inspections）または handover inspections record で記録してください。"
                ),
            )
            notices += [notice] if notice else []
    sent = await send_emails(sessions, notices, mailer)
    return {"pending": len(pending), "overdue": overdue, "notices": len(notices), "emailed": sent}
