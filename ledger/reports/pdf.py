"""PDF output: the shared pieces of every printed form (fonts, A4 pages numbered "n / N", 作成日時, approval
boxes 担当・確認) and the rendering of a tabular :class:`~ledger.reports.model.Report`.

Japanese text is set in the IPAex TrueType fonts (Debian ``fonts-ipaexfont``), embedded as subsets: the built-in
CID fonts are not embedded, so their text would not print or extract where the viewer lacks them. The total
page count is only known once the document is laid out, so the canvas holds finished pages back and draws
every footer at the end.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.documents.fonts import GOTHIC, MINCHO, register_fonts
from ledger.reports.model import Cell, Report, wareki_datetime_cell

MARGIN: Final = 12 * mm
APPROVAL_LABELS: Final = ("担当", "確認")
APPROVAL_BOX: Final = 20 * mm
GETA: Final = "〓"
_CELL_PADDING: Final = 2
_PADDINGS: Final = ("TOPPADDING", "BOTTOMPADDING", "LEFTPADDING", "RIGHTPADDING")


def styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=MINCHO, fontSize=9, leading=13, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=GOTHIC, fontSize=16, leading=22),
        "heading": ParagraphStyle("heading", base, fontName=GOTHIC, fontSize=11, leading=16, spaceBefore=4),
        "cell": ParagraphStyle("cell", base, fontSize=7.5, leading=9.5),
        "header": ParagraphStyle("header", base, fontName=GOTHIC, fontSize=7.5, leading=9.5),
    }


@functools.cache
def _covered() -> frozenset[int]:
    register_fonts()
    gothic, mincho = (set(pdfmetrics.getFont(name).face.charToGlyph) for name in (GOTHIC, MINCHO))
    return frozenset(gothic & mincho | {ord("\n")})


def missing_glyphs(values: Iterable[Cell]) -> list[str]:
    """Characters of ``values`` that the fonts cannot draw (e.g. 𠮷, outside IPAex), in order of appearance."""
    covered = _covered()
    return list(dict.fromkeys(c for value in values if isinstance(value, str) for c in value if ord(c) not in covered))


def text(value: Cell, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text: markup escaped, line breaks kept, characters the font lacks shown as 〓.

    A character without a glyph would otherwise vanish from the page without a trace; 〓 (geta) is the
    customary mark in Japanese print for a character that cannot be set. Say so on the page with
    :func:`missing_glyphs_note`.
    """
    covered = _covered()
    shown = "".join(c if ord(c) in covered else GETA for c in str(value))
    return Paragraph(escape(shown).replace("\n", "<br/>"), style)


def missing_glyphs_note(missing: Sequence[str], style: ParagraphStyle) -> Paragraph:
    codes = "、".join(f"U+{ord(c):04X}" for c in missing)
    return text(
        f"※ 印刷用フォントにない文字は「{GETA}」で示しました（{codes}）。"
        "XLSX・CSV（UTF-8）には元の文字のまま出力されます。",
        style,
    )


def approval_boxes(labels: Sequence[str] = APPROVAL_LABELS, *, box: float = APPROVAL_BOX) -> Table:
    """Stamp boxes (押印欄) with a label above each, e.g. 担当・確認."""
    table = Table([list(labels), [""] * len(labels)], colWidths=[box] * len(labels), rowHeights=[6 * mm, box])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.7, colors.black),
                ("FONTNAME", (0, 0), (-1, -1), GOTHIC),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _numbered_canvas(title: str, created: str) -> type:
    """A canvas class that holds pages back until the end, when it knows N for the footer "n / N"."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._held:
                self.__dict__.update(state)
                self._footer(len(self._held))
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            width = self._pagesize[0]
            self.saveState()
            self.setFont(GOTHIC, 8)
            self.drawString(MARGIN, MARGIN / 2, title)
            self.drawCentredString(width / 2, MARGIN / 2, f"{self.getPageNumber()} / {total}")
            self.drawRightString(width - MARGIN, MARGIN / 2, created)
            self.restoreState()

    return NumberedCanvas


def build_pdf(story: Sequence[Flowable], *, title: str, created_at: datetime, landscape_pages: bool = False) -> bytes:
    """Lay out ``story`` on A4 with title, "n / N" and 作成日時 in every page's footer; return the PDF bytes."""
    register_fonts()
    output = io.BytesIO()
    doc = SimpleDocTemplate(
        output,
        pagesize=landscape(A4) if landscape_pages else A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
    )
    doc.build(list(story), canvasmaker=_numbered_canvas(title, f"作成日時: {wareki_datetime_cell(created_at)}"))
    return output.getvalue()


def heading_block(title: str, lines: Sequence[str], created_at: datetime, width: float) -> Table:
    """Title, conditions and 作成日時 on the left; the approval boxes on the right."""
    s = styles()
    left = [text(title, s["title"]), *(text(line, s["body"]) for line in lines)]
    left.append(text(f"作成日時: {wareki_datetime_cell(created_at)}", s["body"]))
    boxes_width = APPROVAL_BOX * len(APPROVAL_LABELS)
    table = Table([[left, approval_boxes()]], colWidths=[width - boxes_width, boxes_width])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return table


def _section_table(report: Report, rows: Sequence[Sequence[Cell]], width: float) -> Table:
    """One contract's rows; the header row repeats on every page.

    Row heights are measured here, once per cell: left to reportlab, every page break measures all the
    remaining rows again, which made 3,000 rows take several times as long.
    """
    s = styles()
    weights = sum(column.width for column in report.columns)
    widths = [width * column.width / weights for column in report.columns]
    cells = [[text(column.title, s["header"]) for column in report.columns]]
    cells += [[text(cell, s["cell"]) for cell in row] for row in rows]
    heights = [
        max(paragraph.wrap(w - 2 * _CELL_PADDING, 10_000)[1] for paragraph, w in zip(row, widths, strict=True))
        + 2 * _CELL_PADDING
        for row in cells
    ]
    table = Table(cells, colWidths=widths, rowHeights=heights, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *((side, (0, 0), (-1, -1), _CELL_PADDING) for side in _PADDINGS),
            ]
        )
    )
    return table


def render(report: Report) -> bytes:
    """The report as an A4 landscape PDF: one section per contract, each starting on a new page."""
    width = landscape(A4)[0] - 2 * MARGIN
    missing = missing_glyphs(cell for section in report.sections for row in section.rows for cell in row)

    s = styles()
    story: list[Flowable] = [heading_block(report.title, report.filters, report.created_at, width)]
    for number, section in enumerate(report.sections):
        if number:
            story.append(PageBreak())
        story += [Spacer(1, 3 * mm), text(section.title, s["heading"]), Spacer(1, 2 * mm)]
        if section.rows:
            story.append(_section_table(report, section.rows, width))
        else:
            story.append(text("該当する記録はありません。", s["body"]))
    if missing:
        story += [Spacer(1, 3 * mm), missing_glyphs_note(missing, s["body"])]
    return build_pdf(story, title=report.title, created_at=report.created_at, landscape_pages=True)
