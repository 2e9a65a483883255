"""The media register (C-21): a DVD registered, handed over, overdue, returned; each step a register line."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.media import MediumDescription, MediumFile
from ledger.registers import media as media_register
from ledger.registers.media import MediaRegisterError
from ledger.reports import ReportFilter, build
from ledger.wareki import JST
from tests.clock import frozen
from tests.factories import register_world

PREPARED = datetime(2026, 8, 3, 9, 0, tzinfo=JST)
HANDED = datetime(2026, 8, 3, 14, 0, tzinfo=JST)
STAFF, HANDLER = "区職員 一郎（staff-1）", "印刷 花子（handler-1）"  # registers name people with their code


def _description(media_id: str) -> MediumDescription:
    return MediumDescription(
        media_id=media_id,
        folder="s2-print",
        contract_name="介護保険料納入通知書印刷業務",
        prepared_on=PREPARED.date(),
        files=(MediumFile("通知書データ_1.zip", 1_000, "11" * 32), MediumFile("通知書データ_2.zip", 2_000, "22" * 32)),
        image_path=Path(f"/var/media/{media_id}.iso"),
        image_size=4_096_000,
        image_sha256="ee" * 32,
        label_path=Path(f"/var/media/{media_id}-label.pdf"),
    )


async def test_hand_over_overdue_and_return_are_registered(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    contract = world.print_contract
    with frozen(PREPARED):
        first = await media_register.register_medium(
            db_session, contract, _description("DVD-2026-AAAAAA"), prepared_by="staff-1"
        )
        second = await media_register.register_medium(
            db_session, contract, _description("DVD-2026-BBBBBB"), prepared_by="staff-1"
        )
    assert first.contents[1] == {"name": "通知書データ_2.zip", "size": 2_000, "sha256": "22" * 32}
    with frozen(HANDED):
        for medium in (first, second):
            await media_register.hand_over(
                db_session, medium, handed_by="staff-1", handed_to="handler-1", due_back_on=date(2026, 8, 31)
            )
    assert await media_register.overdue_returns(db_session, date(2026, 8, 31)) == []
    overdue = await media_register.overdue_returns(db_session, date(2026, 9, 1), contract_ids=[contract.id])
    assert [m.media_id for m in overdue] == ["DVD-2026-AAAAAA", "DVD-2026-BBBBBB"]
    assert (
        await media_register.overdue_returns(db_session, date(2026, 9, 1), contract_ids=[world.call_contract.id]) == []
    )

    with frozen(datetime(2026, 8, 20, 16, 0, tzinfo=JST)):
        await media_register.record_return(db_session, first, returned_by="handler-1", received_by="staff-1")
    overdue = await media_register.overdue_returns(db_session, date(2026, 9, 1))
    assert [m.media_id for m in overdue] == ["DVD-2026-BBBBBB"]

    register = (await build(db_session, "handover", ReportFilter(contract="S2-PRINT"))).sections[0].rows
    assert [(row[2], row[3], row[4], row[7]) for row in register] == [
        ("管理", STAFF, "", "media"),
        ("管理", STAFF, "", "media"),
        ("提供", STAFF, HANDLER, "media"),
        ("提供", STAFF, HANDLER, "media"),
        ("返却", HANDLER, STAFF, "media"),
    ]
    assert register[2][5] == "DVD DVD-2026-AAAAAA（通知書データ_1.zip、通知書データ_2.zip）"
    assert register[2][6] == "媒体 1枚、ファイル 2件、4,096,000バイト"
    assert register[4][1] == "令和8年8月20日 16:00"

    with frozen(datetime(2026, 9, 2, 9, 0, tzinfo=JST)):
        media = await build(db_session, "media", ReportFilter(contract="S2-PRINT", fiscal_year=2026))
    rows = media.sections[0].rows
    assert [(row[0], row[5], row[8], row[9], row[10]) for row in rows] == [
        ("DVD-2026-AAAAAA", "令和8年8月3日 14:00", "令和8年8月31日", "令和8年8月20日 16:00", "返却済"),
        ("DVD-2026-BBBBBB", "令和8年8月3日 14:00", "令和8年8月31日", "", "返却期限超過"),
    ]
    assert rows[0][3] == "通知書データ_1.zip（1,000バイト）、通知書データ_2.zip（2,000バイト）"


async def test_steps_out_of_order_are_refused(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    medium = await media_register.register_medium(
        db_session, world.print_contract, _description("DVD-2026-CCCCCC"), prepared_by="staff-1"
    )
    with pytest.raises(MediaRegisterError, match="引き渡されていない"):
        await media_register.record_return(db_session, medium, returned_by="handler-1", received_by="staff-1")
    with pytest.raises(MediaRegisterError, match="返却期限"):
        await media_register.hand_over(
            db_session, medium, handed_by="staff-1", handed_to="handler-1", due_back_on=date(2000, 1, 1)
        )
    await media_register.hand_over(
        db_session, medium, handed_by="staff-1", handed_to="handler-1", due_back_on=date(2099, 1, 1)
    )
    with pytest.raises(MediaRegisterError, match="引渡し済み"):
        await media_register.hand_over(
            db_session, medium, handed_by="staff-1", handed_to="handler-1", due_back_on=date(2099, 1, 1)
        )
    await media_register.record_return(db_session, medium, returned_by="handler-1", received_by="staff-1")
    with pytest.raises(MediaRegisterError, match="返却済み"):
        await media_register.record_return(db_session, medium, returned_by="handler-1", received_by="staff-1")
    assert (await media_register.get_medium(db_session, "DVD-2026-CCCCCC")).returned_at is not None
    with pytest.raises(MediaRegisterError, match="登録されていません"):
        await media_register.get_medium(db_session, "DVD-2026-ZZZZZZ")


async def test_late_return_is_marked(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    with frozen(PREPARED):
        medium = await media_register.register_medium(
            db_session, world.print_contract, _description("DVD-2026-DDDDDD"), prepared_by="staff-1"
        )
        await media_register.hand_over(
            db_session, medium, handed_by="staff-1", handed_to="handler-1", due_back_on=date(2026, 8, 10)
        )
    with frozen(datetime(2026, 8, 11, 0, 30, tzinfo=JST)):  # 10 August in UTC, 11 August in JST: late
        await media_register.record_return(db_session, medium, returned_by="handler-1", received_by="staff-1")
        rows = (await build(db_session, "media", ReportFilter(contract="S2-PRINT"))).sections[0].rows
    assert rows[0][10] == "返却済（期限後）"
