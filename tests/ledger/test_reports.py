"""Report files open as their readers expect: PDF text with Japanese and 和暦 intact, XLSX, CSV in two encodings."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.intake.results import delivered_entry
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports import Report, ReportError, ReportFilter, build, render
from ledger.reports.csvfile import UnencodableError
from ledger.reports.model import Column, Section, neutralise
from ledger.wareki import JST
from tests.clock import frozen
from tests.factories import RegisterWorld, register_world

CREATED = datetime(2019, 5, 1, 0, 0, tzinfo=UTC)  # 令和元年5月1日 09:00 JST
HOSTILE = '=HYPERLINK("http://example.invalid/","開く")'


async def _register(session: AsyncSession) -> tuple[RegisterWorld, Report]:
    world = await register_world(session)
    for contract in (world.print_contract, world.call_contract):
        package = await world.deliver(
            session, contract, f"{contract.code}_データ.csv", datetime(2026, 4, 1, tzinfo=JST)
        )
        with frozen(datetime(2026, 4, 1, 10, 0, tzinfo=JST)):
            await record(session, delivered_entry(package, "sftp"))
    with frozen(datetime(2026, 4, 2, 10, 0, tzinfo=JST)):
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.DESIGNATION_ADDED,
                category=Category.ADMIN,
                content=HOSTILE,
                contract_id=world.print_contract.public_id,
                handler_from="@staff",
                handler_to="𠮷田 太郎",
            ),
        )
    report = await build(session, "handover", ReportFilter(program="kaigo-hokenryo", fiscal_year=2026), now=CREATED)
    return world, report


def _pdftotext(path: Path) -> str:
    # -raw keeps the text in drawing order with every space (the layout mode drops narrow ones: "1/2").
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout


async def test_pdf_text_extracts_with_japanese_and_wareki(db_session: AsyncSession, tmp_path: Path) -> None:
    _, report = await _register(db_session)
    path = tmp_path / "register.pdf"
    path.write_bytes(await asyncio.to_thread(render, report, "pdf"))
    text = _pdftotext(path)
    for expected in (
        "個人情報受渡し管理簿（確認記録票）",
        "年度: 令和8年度（2026年度）",
        "作成日時: 令和元年5月1日 09:00",
        "担当",
        "確認",
        "介護保険料納入通知書印刷業務（S2-PRINT）／株式会社ダミー印刷",
        "令和8年4月1日 10:00",
        "暗号化パッケージ S2-PRINT_データ.zip",
        "〓田 太郎",  # IPAex has no 𠮷: shown as geta, and said so below
        "で示しました（U+20BB7）",
        "1 / 2",
        "2 / 2",
    ):
        assert expected in text, expected
    assert text.count("\f") == 2  # one page per contract here
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    embedded = [line for line in fonts.splitlines() if "IPAex" in line]
    assert embedded
    assert all(" yes " in line for line in embedded)


async def test_xlsx_has_a_sheet_per_contract_frozen_header_filter_and_no_formulas(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    _, report = await _register(db_session)
    path = tmp_path / "register.xlsx"
    path.write_bytes(await asyncio.to_thread(render, report, "xlsx"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["S2-CALL", "S2-PRINT"]
    sheet = book["S2-PRINT"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I3"
    assert [cell.value for cell in sheet[1]] == [column.title for column in report.columns]
    assert sheet["B2"].value == "令和8年4月1日 10:00"
    hostile = sheet["F3"]
    assert (hostile.value, hostile.data_type) == ("'" + HOSTILE, "s")
    assert sheet["D3"].value == "'@staff"
    assert sheet["E3"].value == "𠮷田 太郎"
    assert book["S2-CALL"].max_row == 2


async def test_csv_round_trips_in_utf8_with_bom(db_session: AsyncSession) -> None:
    _, report = await _register(db_session)
    data = render(report, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["契約", *(column.title for column in report.columns)]
    assert [row[0] for row in rows[1:]] == ["S2-CALL", "S2-PRINT", "S2-PRINT"]
    assert rows[3][4:7] == ["'@staff", "𠮷田 太郎", "'" + HOSTILE]
    assert rows[2][2] == "令和8年4月1日 10:00"


async def test_cp932_reports_what_it_cannot_hold(db_session: AsyncSession) -> None:
    _, report = await _register(db_session)
    with pytest.raises(UnencodableError) as caught:
        render(report, "csv", encoding="cp932")
    assert list(caught.value.characters) == ["𠮷"]
    assert "「𠮷」（U+20BB7: S2-PRINT の2行目「受領者」）" in str(caught.value)


def test_cp932_round_trips_what_it_can_hold() -> None:
    report = Report(
        "テスト",
        (Column("名前", 10), Column("件数", 5)),
        (),
        (Section("A", "契約A", [("髙橋 ①", 3), ("-1+1", -1)]),),
        CREATED,
    )
    data = render(report, "csv", encoding="cp932")
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("cp932"), newline="")))
    assert rows == [["契約", "名前", "件数"], ["A", "髙橋 ①", "3"], ["A", "'-1+1", "-1"]]
    with pytest.raises(ReportError, match="文字コード"):
        render(report, "csv", encoding="latin-1")
    with pytest.raises(ReportError, match="形式"):
        render(report, "docx")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_neutralised(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["令和8年", "a=b", "", 5, -5])
def test_other_cells_are_left_alone(value: str | int) -> None:
    assert neutralise(value) == value


def test_xlsx_refuses_control_characters_excel_cannot_store() -> None:
    report = Report("テスト", (Column("名前", 10),), (), (Section("A", "契約A", [("ok",), ("a\x01b",)]),), CREATED)
    with pytest.raises(ReportError, match="A の2行目に Excel で扱えない制御文字"):
        render(report, "xlsx")
