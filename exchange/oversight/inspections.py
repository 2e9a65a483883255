"""Yearly inspections of contractors and sub-contractors (C-19).

Every contract that is in force during a fiscal year (April–March) gets one inspection due by the end of that
year, or by the contract's end if sooner. The daily duty creates the rows, reminds staff a month before the due
date and escalates once when it has passed; ``record_result`` stores date, inspector and findings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
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


async def record_result(
    session: AsyncSession,
    inspection: Inspection,
    *,
    performed_on: date,
    inspector: str,
    result: str,
    findings: str,
    now: datetime,
) -> None:
    if result not in RESULTS:
        raise ValueError(f"result must be one of {RESULTS}")
    contract = await session.get(Contract, inspection.contract_id)
    assert contract is not None
    inspection.performed_on = performed_on
    inspection.inspector = inspector
    inspection.result = result
    inspection.findings = findings
    inspection.recorded_at = now
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INSPECTION_RECORDED,
            category=Category.ADMIN,
            content=f"{inspection.fiscal_year}年度の実地検査を記録（{to_wareki(performed_on)}、{result}）",
            contract_id=contract.public_id,
            handler_from=inspector,
            details={"inspection_id": inspection.public_id, "findings": findings},
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
                    "結果を記録してください。"
                ),
            )
            notices += [notice] if notice else []
    sent = await send_emails(sessions, notices, mailer)
    return {"pending": len(pending), "overdue": overdue, "notices": len(notices), "emailed": sent}
