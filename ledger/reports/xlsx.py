"""XLSX output: one sheet per contract, the header row frozen and filtered, printable on A4 landscape."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError

from ledger.reports.model import Report, ReportError, neutralise, wareki_datetime_cell

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX = 31


def sheet_name(code: str, taken: set[str]) -> str:
    """A valid, unique sheet name from a contract code (Excel: 31 characters, no ``[]:*?/\\``)."""
    base = _SHEET_FORBIDDEN.sub("_", code).strip("'")[:_SHEET_MAX] or "契約"
    name, number = base, 1
    while name.casefold() in taken:
        number += 1
        suffix = f"~{number}"
        name = base[: _SHEET_MAX - len(suffix)] + suffix
    taken.add(name.casefold())
    return name


def _header_text(value: str) -> str:
    # "&" starts a code (&P page, &N pages) in Excel's print headers.
    return value.replace("&", "&&")


def render(report: Report) -> bytes:
    book = Workbook()
    book.remove(book.active)
    book.properties.title = report.title
    book.properties.description = "\n".join((*report.filters, f"作成日時: {wareki_datetime_cell(report.created_at)}"))
    taken: set[str] = set()
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    for section in report.sections:
        sheet = book.create_sheet(sheet_name(section.code, taken))
        sheet.append([column.title for column in report.columns])
        for cell in sheet[1]:
            cell.font = bold
        for number, row in enumerate(section.rows, start=2):
            for index, value in enumerate(row, start=1):
                try:
                    cell = sheet.cell(row=number, column=index, value=neutralise(value))
                except IllegalCharacterError as exc:
                    raise ReportError(
                        f"{section.code} の{number - 1}行目に Excel で扱えない制御文字があります。"
                    ) from exc
                if isinstance(value, str) and "\n" in value:
                    cell.alignment = wrap
        last = get_column_letter(len(report.columns))
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{last}{sheet.max_row}"
        for index, column in enumerate(report.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = column.width * 2 + 2
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.print_title_rows = "1:1"
        sheet.oddHeader.left.text = _header_text(f"{report.title}　{section.title}")
        sheet.oddFooter.center.text = "&P / &N"
        sheet.oddFooter.right.text = _header_text(f"作成日時: {wareki_datetime_cell(report.created_at)}")
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()
