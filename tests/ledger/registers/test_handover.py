"""The handover register read back from real register lines, with its filters (fiscal year, dates, scope)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.intake.results import delivered_entry
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports import ReportError, ReportFilter, build
from ledger.reports.handover import quantity_text
from ledger.tlog.appending import append
from ledger.wareki import JST
from tests.clock import frozen
from tests.factories import RegisterWorld, register_world

# 2026-03-31 23:30 JST is still 令和7年度 (FY2025); 2026-04-01 00:10 JST starts FY2026. Both are 31 March in UTC.
LAST_OF_FY2025 = datetime(2026, 3, 31, 23, 30, tzinfo=JST)
FIRST_OF_FY2026 = datetime(2026, 4, 1, 0, 10, tzinfo=JST)


async def _history(session: AsyncSession, world: RegisterWorld) -> None:
    """March: one delivery. April: a delivery, its acknowledgement and the password notice; other contracts."""
    march = await world.deliver(session, world.print_contract, "三月分_印刷データ.csv", LAST_OF_FY2025)
    april = await world.deliver(session, world.print_contract, "四月分_印刷データ.csv", FIRST_OF_FY2026)
    with frozen(LAST_OF_FY2025):
        await record(session, delivered_entry(march, "sftp"))
    with frozen(FIRST_OF_FY2026):
        await record(session, delivered_entry(april, "sftp"))
        # A ledger event that is not a register line (no category) stays out of the register.
        await append(session, "access.login", {"who": "x"}, contract_id=world.print_contract.public_id)
    with frozen(datetime(2026, 4, 1, 9, 30, tzinfo=JST)):
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.PACKAGE_ACKNOWLEDGED,
                category=Category.RECEIVED,
                content=f"受領確認（{april.zip_name}）",
                contract_id=world.print_contract.public_id,
                package_id=april.public_id,
                handler_from="system",
                handler_to=world.handler.name,
                channel="portal",
            ),
        )
    with frozen(datetime(2026, 4, 2, 10, 0, tzinfo=JST)):
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.PASSWORD_RELEASED,
                category=Category.PASSWORD_NOTICE,
                content=f"パスワード通知（{april.zip_name}）",
                contract_id=world.print_contract.public_id,
                package_id=april.public_id,
                handler_from="system",
                handler_to=world.handler.name,
                channel="notice",
            ),
        )
        for contract in (world.call_contract, world.aircon_contract):
            other = await world.deliver(session, contract, f"{contract.code}.csv", FIRST_OF_FY2026)
            await record(session, delivered_entry(other, "box"))


async def test_register_rows_from_real_lines_with_acknowledgement(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    await _history(db_session, world)
    report = await build(db_session, "handover", ReportFilter(contract="S2-PRINT", fiscal_year=2026))
    assert [column.title for column in report.columns] == [
        "台帳番号",
        "日時",
        "区分",
        "引渡者",
        "受領者",
        "情報の内容",
        "数量",
        "媒体・経路",
        "確認",
    ]
    (section,) = report.sections
    assert section.code == "S2-PRINT"
    assert section.title == "介護保険料納入通知書印刷業務（S2-PRINT）／株式会社ダミー印刷"
    assert section.rows == [
        (
            1,
            "令和8年4月1日 00:10",
            "提供",
            "システム",
            "",
            "暗号化パッケージ 四月分_印刷データ.zip",
            "ファイル 1件、レコード 8,500件、123,456バイト",
            "sftp",
            "印刷 花子 令和8年4月1日 09:30",
        ),
        (
            3,
            "令和8年4月1日 09:30",
            "受領",
            "システム",
            "印刷 花子",
            "受領確認（四月分_印刷データ.zip）",
            "",
            "portal",
            "",
        ),
        (
            4,
            "令和8年4月2日 10:00",
            "パスワード通知",
            "システム",
            "印刷 花子",
            "パスワード通知（四月分_印刷データ.zip）",
            "",
            "notice",
            "",
        ),
    ]
    assert report.filters == ("契約: S2-PRINT", "年度: 令和8年度（2026年度）")


async def test_fiscal_year_runs_april_to_march_in_jst(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    await _history(db_session, world)
    fy2025 = await build(db_session, "handover", ReportFilter(contract="S2-PRINT", fiscal_year=2025))
    assert [(row[0], row[1]) for row in fy2025.sections[0].rows] == [(0, "令和8年3月31日 23:30")]
    only_first = ReportFilter(contract="S2-PRINT", date_from=date(2026, 4, 1), date_to=date(2026, 4, 1))
    rows = (await build(db_session, "handover", only_first)).sections[0].rows
    assert [row[0] for row in rows] == [1, 3]
    both_years = ReportFilter(contract="S2-PRINT", date_from=date(2026, 3, 31), date_to=date(2026, 4, 1))
    assert [row[0] for row in (await build(db_session, "handover", both_years)).sections[0].rows] == [0, 1, 3]


async def test_acknowledgement_falls_back_to_the_package_row(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    package = await world.deliver(db_session, world.call_contract, "問合せ一覧.csv", FIRST_OF_FY2026)
    package.acknowledged_at = datetime(2026, 4, 3, 1, 0, tzinfo=UTC)
    package.acknowledged_by_id = world.handler.id
    with frozen(FIRST_OF_FY2026):
        await record(db_session, delivered_entry(package, "box"))
    (row,) = (await build(db_session, "handover", ReportFilter(contract="S2-CALL"))).sections[0].rows
    assert row[-1] == "印刷 花子 令和8年4月3日 10:00"


async def test_program_and_party_choose_contracts(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    await _history(db_session, world)
    by_program = await build(db_session, "handover", ReportFilter(program="kaigo-hokenryo", fiscal_year=2026))
    assert [s.code for s in by_program.sections] == ["S2-CALL", "S2-PRINT"]
    assert [len(s.rows) for s in by_program.sections] == [1, 3]
    by_party = await build(db_session, "handover", ReportFilter(party="callcentre"))
    assert [s.code for s in by_party.sections] == ["S2-CALL", "S4-CALL"]
    assert [s.rows[0][5] for s in by_party.sections] == ["暗号化パッケージ S2-CALL.zip", "暗号化パッケージ S4-CALL.zip"]
    with pytest.raises(ReportError, match="条件に合う契約がありません"):
        await build(db_session, "handover", ReportFilter(program="aircon-josei", party="printer"))


async def test_unknown_codes_and_reversed_periods_are_refused(db_session: AsyncSession) -> None:
    await register_world(db_session)
    with pytest.raises(ReportError, match="契約コード「nope」は登録されていません"):
        await build(db_session, "handover", ReportFilter(contract="nope"))
    with pytest.raises(ReportError, match="業務コード「nope」"):
        await build(db_session, "handover", ReportFilter(program="nope"))
    with pytest.raises(ReportError, match="より後です"):
        ReportFilter(date_from=date(2026, 5, 1), date_to=date(2026, 4, 1))


def test_quantity_text_orders_units_and_keeps_unknown_keys() -> None:
    assert quantity_text({"bytes": 2048, "files": 2, "media": 1, "boxes": 3}) == (
        "媒体 1枚、ファイル 2件、2,048バイト、boxes 3"
    )
