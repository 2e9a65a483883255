"""Each contract and sub-contract is inspected once per fiscal year (C-19): reminders before and after the due
date, once each, and a recorded result silences them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.oversight import inspections
from ledger.db import session_factory
from ledger.models import Contract
from ledger.models.duties import DutyNotice
from ledger.models.oversight import Inspection
from tests.factories import load_demo


async def test_inspections_are_due_reminded_and_recorded(db_engine: AsyncEngine, tmp_path: Path) -> None:
    sessions = session_factory(db_engine)
    async with sessions.begin() as session:
        await load_demo(session, tmp_path)

    early = await inspections.remind(sessions, datetime(2026, 6, 1, 3, tzinfo=UTC), mailer=None)
    assert early["pending"] == 5, "every contract and sub-contract in force in FY2026 gets one inspection"
    assert early["notices"] == 0
    async with sessions() as session:
        rows = (await session.execute(select(Inspection, Contract).join(Contract))).all()
    due = {contract.code: inspection.due_on for inspection, contract in rows}
    assert due["s1-main"] == date(2027, 3, 31) and due["s4-visit"] == date(2026, 10, 31)

    after_s4 = datetime(2026, 11, 5, 3, tzinfo=UTC)  # the S4 contracts ended on 2026-10-31 uninspected
    late = await inspections.remind(sessions, after_s4, mailer=None)
    assert len(late["overdue"]) == 2
    assert (await inspections.remind(sessions, after_s4, mailer=None))["notices"] == 0, "told once"

    async with sessions.begin() as session:
        for inspection, contract in rows:
            if contract.code.startswith("s4-"):
                row = await session.get(Inspection, inspection.id)
                assert row is not None
                form = inspections.InspectionResult(
                    date(2026, 11, 4), "監査 正子", inspections.RESULTS[0], "指摘事項なし", "生活福祉課 区役 三郎"
                )
                await inspections.record_result(session, row, form, now=after_s4)
    settled = await inspections.remind(sessions, datetime(2026, 11, 6, 3, tzinfo=UTC), mailer=None)
    assert settled["overdue"] == [] and settled["pending"] == 3
    async with sessions() as session:
        occasions = sorted((await session.execute(select(DutyNotice.occasion))).scalars())
    assert occasions == ["overdue", "overdue"]
