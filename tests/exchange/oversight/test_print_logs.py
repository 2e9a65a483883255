"""Print logs (C-17): CSV in UTF-8, BOM or CP932; matching to delivered print data; reprints need reasons."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.oversight import print_logs
from exchange.oversight.print_logs import PrintLogError, parse_print_log
from ledger.models.registers import PrintFindingKind
from ledger.reports import ReportFilter, build
from ledger.reports.printlog import prints_text
from ledger.wareki import JST
from tests.clock import frozen
from tests.factories import register_world

HEADER = "印刷元コンピュータ名,印刷日時,印刷ファイル名,印刷先プリンタ名,印刷枚数"
FIRST_LOG = (
    f"{HEADER}\r\n"
    'PC-01,2026/08/03 10:15:00,C:\\印刷\\介護保険料通知_印刷データ.csv,PRN-A3,"8,500"\r\n'
    "PC-02,2026/8/3 13:02,介護保険料通知_印刷データ.csv,PRN-A3,１２\r\n"
    "PC-02,2026-08-04 09:00,督促状.pdf,PRN-A3,40\r\n"
    "PC-02,2026-08-04 09:30,チラシ（髙橋さん作成）.pdf,PRN-B,100\r\n"
)


def _parse(text: str, encoding: str, name: str = "log.csv", forced: str | None = None) -> print_logs.ParsedLog:
    return parse_print_log(text.encode(encoding), name, forced)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_log_is_read_in_each_encoding(encoding: str) -> None:
    parsed = _parse(FIRST_LOG, encoding)
    assert parsed.encoding == encoding
    assert [row.file_name for row in parsed.rows] == [
        "C:\\印刷\\介護保険料通知_印刷データ.csv",
        "介護保険料通知_印刷データ.csv",
        "督促状.pdf",
        "チラシ（髙橋さん作成）.pdf",
    ]
    first, second = parsed.rows[:2]
    assert (first.computer, first.printer, first.pages, first.line) == ("PC-01", "PRN-A3", 8500, 1)
    assert first.printed_at == datetime(2026, 8, 3, 10, 15, tzinfo=JST)
    assert (second.printed_at, second.pages, second.reason) == (datetime(2026, 8, 3, 13, 2, tzinfo=JST), 12, None)


def test_problems_are_listed_with_their_place() -> None:
    with pytest.raises(PrintLogError, match="必要な列がありません: 印刷先プリンタ名、印刷枚数"):
        _parse("印刷元コンピュータ名,印刷日時,印刷ファイル名\r\n", "utf-8")
    bad = f"{HEADER}\r\nPC,昨日,a.pdf,P,1\r\nPC,2026/08/03 10:00,b.pdf,P,0\r\nPC,2026/08/03 10:00,c.pdf,P,2\r\n"
    with pytest.raises(PrintLogError) as caught:
        _parse(bad, "utf-8")
    assert caught.value.problems == [
        "1件目のデータ（見出しを除く）: 印刷日時「昨日」を読めません（例: 2026/08/03 10:15:00）",
        "2件目のデータ（見出しを除く）: 印刷枚数「0」は1以上の整数ではありません",
    ]
    with pytest.raises(PrintLogError, match="UTF-8として読めないバイト"):
        _parse(FIRST_LOG, "cp932", forced="utf-8")
    with pytest.raises(PrintLogError, match="1件もありません"):
        _parse(HEADER + "\r\n", "utf-8")
    with pytest.raises(PrintLogError, match="CSVまたはExcel"):
        _parse(FIRST_LOG, "utf-8", name="log.pdf")
    with pytest.raises(PrintLogError, match="大きすぎます"):
        parse_print_log(b"a" * (print_logs.MAX_LOG_BYTES + 1), "log.csv")


def test_the_s2_print_servers_column_names_and_xlsx_are_read() -> None:
    """The S2 plugin's former format (端末名 … 再印刷理由) is read by the one parser, and so is an XLSX log."""
    s2 = (
        "端末名,印刷日時,ファイル名,プリンタ名,ページ数,再印刷理由\r\nPC-01,2026-07-01 10:00,a.pdf,PR-1,10,紙詰まり\r\n"
    )
    [row] = _parse(s2, "cp932").rows
    assert (row.computer, row.file_name, row.printer, row.pages, row.reason) == (
        "PC-01",
        "a.pdf",
        "PR-1",
        10,
        "紙詰まり",
    )
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["PC-03", datetime(2026, 8, 3, 10, 15), "督促状.pdf", "PRN-A3", 40])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse_print_log(buffer.getvalue(), "8月.xlsx")
    assert parsed.encoding == "xlsx"
    assert [(r.computer, r.printed_at, r.file_name, r.pages) for r in parsed.rows] == [
        ("PC-03", datetime(2026, 8, 3, 10, 15, tzinfo=JST), "督促状.pdf", 40)
    ]


async def test_reprint_is_flagged_then_resolved_with_a_reason(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    contract = world.print_contract
    notices = await world.deliver(
        db_session, contract, "介護保険料通知_印刷データ.csv", datetime(2026, 8, 1, tzinfo=JST)
    )
    # 40 pages for 20 reminders fit (two pages each); the notices' 8,500 pages fit their 8,500 records.
    reminders = await world.deliver(db_session, contract, "督促状.csv", datetime(2026, 8, 1, tzinfo=JST), records=20)

    with frozen(datetime(2026, 8, 5, 10, 0, tzinfo=JST)):
        first = await print_logs.ingest(
            db_session, contract, FIRST_LOG.encode("cp932"), file_name="8月.csv", uploaded_by="印刷 花子"
        )
    assert first.print_log.encoding == "cp932"
    # Exact name (after the spooler's folder), and a PDF printed from the delivered CSV by its stem.
    assert [row.package_id for row in first.print_log.rows] == [notices.id, notices.id, reminders.id, None]
    assert [(f.kind, f.file_name, f.print_count, f.reason) for f in first.findings] == [
        (PrintFindingKind.DUPLICATE, "介護保険料通知_印刷データ.csv", 2, None),
        (PrintFindingKind.UNMATCHED, "チラシ（髙橋さん作成）.pdf", 1, None),
    ]

    # A later log prints the notices a third time and says why in its own 理由 column.
    second_log = (
        f"{HEADER},理由\r\n"
        "PC-01,2026/08/10 09:00,介護保険料通知_印刷データ.csv,PRN-A3,3,用紙詰まりのため3枚を再印刷\r\n"
        "PC-01,2026/08/10 09:05,督促状.pdf,PRN-A3,40,\r\n"
    )
    with frozen(datetime(2026, 8, 11, 10, 0, tzinfo=JST)):
        second = await print_logs.ingest(
            db_session, contract, second_log.encode("utf-8-sig"), file_name="8月追加.csv", uploaded_by="印刷 花子"
        )
    assert [(f.file_name, f.print_count, f.reason, f.reason_by) for f in second.findings] == [
        ("介護保険料通知_印刷データ.csv", 3, "用紙詰まりのため3枚を再印刷", "印刷 花子"),
        ("督促状.pdf", 2, None, None),
    ]
    with pytest.raises(PrintLogError, match="既に受け付けています"):
        await print_logs.ingest(
            db_session, contract, FIRST_LOG.encode("cp932"), file_name="8月.csv", uploaded_by="印刷 花子"
        )

    waiting = await print_logs.open_findings(db_session, [contract.id])
    assert [(f.kind, f.file_name) for f in waiting] == [
        (PrintFindingKind.DUPLICATE, "介護保険料通知_印刷データ.csv"),
        (PrintFindingKind.UNMATCHED, "チラシ（髙橋さん作成）.pdf"),
        (PrintFindingKind.DUPLICATE, "督促状.pdf"),
    ]
    with frozen(datetime(2026, 8, 12, 15, 0, tzinfo=JST)):
        await print_logs.give_reason(db_session, waiting[0], "  試し刷りの2枚目  ", given_by="印刷 花子")
    with pytest.raises(PrintLogError, match="記録済み"):
        await print_logs.give_reason(db_session, waiting[0], "別の理由", given_by="印刷 花子")
    with pytest.raises(PrintLogError, match="空"):
        await print_logs.give_reason(db_session, waiting[1], " ", given_by="印刷 花子")
    assert [f.file_name for f in await print_logs.open_findings(db_session)] == [
        "チラシ（髙橋さん作成）.pdf",
        "督促状.pdf",
    ]

    register = (await build(db_session, "handover", ReportFilter(contract="S2-PRINT"))).sections[0].rows
    assert [(row[2], row[5]) for row in register] == [
        ("受領", "印刷ログ 8月.csv（4件、8652枚）"),
        ("管理", "重複印刷 介護保険料通知_印刷データ.csv（2回目まで、理由未記載）"),
        ("管理", "納品した印刷データにないファイルの印刷 チラシ（髙橋さん作成）.pdf"),
        ("受領", "印刷ログ 8月追加.csv（2件、43枚）"),
        ("管理", "重複印刷 介護保険料通知_印刷データ.csv（3回目まで、理由: 用紙詰まりのため3枚を再印刷）"),
        ("管理", "重複印刷 督促状.pdf（2回目まで、理由未記載）"),
        ("管理", "重複印刷 介護保険料通知_印刷データ.csv（2回目まで、理由: 試し刷りの2枚目）"),
    ]
    assert register[0][6] == "ファイル 1件、行 4件、印刷 8,652枚"

    findings = (await build(db_session, "print", ReportFilter(contract="S2-PRINT", fiscal_year=2026))).sections[0]
    assert [(row[2], row[3], row[4], row[6], row[9]) for row in findings.rows] == [
        ("重複印刷", "介護保険料通知_印刷データ.csv", 2, "試し刷りの2枚目", "理由あり"),
        ("納品データ外", "チラシ（髙橋さん作成）.pdf", 1, "", "理由未記載"),
        ("重複印刷", "介護保険料通知_印刷データ.csv", 3, "用紙詰まりのため3枚を再印刷", "理由あり"),
        ("重複印刷", "督促状.pdf", 2, "", "理由未記載"),
    ]
    assert str(findings.rows[0][5]).splitlines() == [
        "令和8年8月3日 10:15（PC-01／PRN-A3／8,500枚）",
        "令和8年8月3日 13:02（PC-02／PRN-A3／12枚）",
        "令和8年8月10日 09:00（PC-01／PRN-A3／3枚）",
    ]
    assert findings.rows[0][8] == "令和8年8月12日 15:00"


def test_long_print_history_is_cut_to_fit_a_page() -> None:
    history = [f"令和8年8月{day}日 10:00（PC／P／1枚）" for day in range(1, 26)]
    lines = prints_text(history).splitlines()
    assert lines[:20] == history[:20]
    assert lines[20:] == ["ほか5件"]
    assert prints_text(history[:3]).splitlines() == history[:3]


async def test_a_first_print_that_does_not_fit_the_records_is_a_finding(db_session: AsyncSession) -> None:
    world = await register_world(db_session)
    contract = world.print_contract
    for name in ("通知A.csv", "通知B.csv", "通知C.csv"):
        await world.deliver(db_session, contract, name, datetime(2026, 8, 1, tzinfo=JST), records=100)
    log = (
        f"{HEADER},理由\r\n"
        "PC-01,2026/08/03 10:00,通知A.pdf,P,200,\r\n"  # two pages a notice: fits
        "PC-01,2026/08/03 11:00,通知B.pdf,P,150,\r\n"  # half a notice too many
        "PC-01,2026/08/03 12:00,通知C.pdf,P,99,1通は宛先不明で除外\r\n"  # one short, with the printer's reason
    )
    result = await print_logs.ingest(db_session, contract, log.encode(), file_name="8月.csv", uploaded_by="印刷 花子")
    assert [(f.kind, f.file_name, f.detail, f.reason) for f in result.findings] == [
        (PrintFindingKind.PAGES, "通知B.pdf", "印刷 150枚、レコード 100件", None),
        (PrintFindingKind.PAGES, "通知C.pdf", "印刷 99枚、レコード 100件", "1通は宛先不明で除外"),
    ]
    assert print_logs.finding_text(result.findings[0]) == (
        "印刷枚数がレコード件数に合わない 通知B.pdf（印刷 150枚、レコード 100件、理由未記載）"
    )
    findings = (await build(db_session, "print", ReportFilter(contract="S2-PRINT"))).sections[0].rows
    assert [(row[2], row[3], row[9]) for row in findings] == [
        ("枚数不一致", "通知B.pdf", "理由未記載"),
        ("枚数不一致", "通知C.pdf", "理由あり"),
    ]
