"""Print logs (C-17): CSV in UTF-8, BOM or CP932; matching to delivered print data; reprints need reasons."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_log_is_read_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    parsed = parse_print_log(_write(tmp_path / "log.csv", FIRST_LOG, encoding))
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


def test_problems_are_listed_with_their_place(tmp_path: Path) -> None:
    with pytest.raises(PrintLogError, match="印刷先プリンタ名、印刷枚数"):
        parse_print_log(_write(tmp_path / "a.csv", "印刷元コンピュータ名,印刷日時,印刷ファイル名\r\n", "utf-8"))
    bad = f"{HEADER}\r\nPC,昨日,a.pdf,P,1\r\nPC,2026/08/03 10:00,b.pdf,P,0\r\nPC,2026/08/03 10:00,c.pdf,P,2\r\n"
    with pytest.raises(PrintLogError) as caught:
        parse_print_log(_write(tmp_path / "b.csv", bad, "utf-8"))
    assert caught.value.problems == [
        "1件目のデータ（見出しを除く）: 印刷日時「昨日」を読めません（例: 2026/08/03 10:15:00）",
        "2件目のデータ（見出しを除く）: 印刷枚数「0」は1以上の整数ではありません",
    ]
    with pytest.raises(PrintLogError, match="UTF-8として読めないバイト"):
        parse_print_log(_write(tmp_path / "c.csv", FIRST_LOG, "cp932"), "utf-8")
    with pytest.raises(PrintLogError, match="1件もありません"):
        parse_print_log(_write(tmp_path / "d.csv", HEADER + "\r\n", "utf-8"))


async def test_reprint_is_flagged_then_resolved_with_a_reason(db_session: AsyncSession, tmp_path: Path) -> None:
    world = await register_world(db_session)
    contract = world.print_contract
    notices = await world.deliver(
        db_session, contract, "介護保険料通知_印刷データ.csv", datetime(2026, 8, 1, tzinfo=JST)
    )
    reminders = await world.deliver(db_session, contract, "督促状.csv", datetime(2026, 8, 1, tzinfo=JST))

    with frozen(datetime(2026, 8, 5, 10, 0, tzinfo=JST)):
        first = await print_logs.ingest(
            db_session, contract, _write(tmp_path / "8月.csv", FIRST_LOG, "cp932"), uploaded_by="印刷 花子"
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
            db_session, contract, _write(tmp_path / "8月追加.csv", second_log, "utf-8-sig"), uploaded_by="印刷 花子"
        )
    assert [(f.file_name, f.print_count, f.reason, f.reason_by) for f in second.findings] == [
        ("介護保険料通知_印刷データ.csv", 3, "用紙詰まりのため3枚を再印刷", "印刷 花子"),
        ("督促状.pdf", 2, None, None),
    ]
    with pytest.raises(PrintLogError, match="既に受け付けています"):
        await print_logs.ingest(db_session, contract, tmp_path / "8月.csv", uploaded_by="印刷 花子")

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
