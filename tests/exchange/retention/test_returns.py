"""Printed password notices and DVDs that must come back (C-04, C-21): overdue ones are flagged once each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.retention import returns
from ledger.db import session_factory
from ledger.models import Contract, LedgerEntry
from ledger.models.duties import DutyNotice
from ledger.models.retention import ExpectedReturn, ReturnKind
from ledger.registers import media as media_register
from tests.factories import load_demo


@dataclass(frozen=True)
class File:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Disc:
    media_id: str
    files: tuple[File, ...]
    image_size: int
    image_sha256: str


async def test_overdue_notice_and_disc_flagged_once_then_returned(db_engine: AsyncEngine, tmp_path: Path) -> None:
    sessions = session_factory(db_engine)
    handed = datetime(2026, 6, 1, 1, tzinfo=UTC)
    async with sessions.begin() as session:
        await load_demo(session, tmp_path)
        contract = (await session.execute(select(Contract).where(Contract.code == "s2-print"))).scalar_one()
        notice = await returns.expect_return(
            session,
            kind=ReturnKind.PASSWORD_NOTICE,
            reference="pkg-1",
            contract=contract,
            handed_over_at=handed,
            due_on=date(2026, 7, 1),
        )
        disc = Disc("DVD-2026-ABCDEF", (File("a.zip", 10, "0" * 64),), 2048, "1" * 64)
        medium = await media_register.register_medium(session, contract, disc, prepared_by="staff-kaigo", at=handed)
        await media_register.hand_over(
            session, medium, handed_by="staff-kaigo", handed_to="asp-handler", due_back_on=date(2026, 7, 1), at=handed
        )

    before_due = await returns.flag_overdue(sessions, datetime(2026, 6, 30, 3, tzinfo=UTC), mailer=None)
    assert before_due["overdue"] == []
    late = datetime(2026, 7, 3, 3, tzinfo=UTC)
    first = await returns.flag_overdue(sessions, late, mailer=None)
    assert sorted(first["overdue"]) == sorted([notice.public_id, "DVD-2026-ABCDEF"]) and first["notices"] == 2
    again = await returns.flag_overdue(sessions, late + timedelta(days=1), mailer=None)
    assert again["notices"] == 0, "staff are told once per item, not every day"

    async with sessions.begin() as session:
        kinds = set((await session.execute(select(DutyNotice.kind))).scalars())
        assert kinds == {"return.overdue", "media.overdue"}
        item = await session.get(ExpectedReturn, notice.id)
        assert item is not None
        await returns.record_return(session, item, received_by="区役 次郎", at=late)
        medium = await media_register.get_medium(session, "DVD-2026-ABCDEF")
        await media_register.record_return(
            session, medium, returned_by="asp-handler", received_by="staff-kaigo", at=late
        )
    after = await returns.flag_overdue(sessions, late + timedelta(days=2), mailer=None)
    assert after["overdue"] == []
    async with sessions() as session:
        entries = list((await session.execute(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).scalars())
    assert entries == ["medium.prepared", "medium.handed_over", "return.received", "medium.returned"]
