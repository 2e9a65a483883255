"""Japanese PDFs of the duties: the hub's deletion certificate, the incident report, the deletion report.

Documents rather than tabular reports (those are ``ledger.reports``): a title, then sections of key/value
pairs, row tables and notes. Fonts are the embedded IPAex fonts registered by ``ledger.reports.pdf``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.documents.fonts import GOTHIC, MINCHO, register_fonts

_WIDTH: Final = 170 * mm


@dataclass(frozen=True)
class Section:
    heading: str
    pairs: Sequence[tuple[str, str]] = ()
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    notes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Document:
    title: str
    date_line: str
    issuer: str
    sections: Sequence[Section]


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=MINCHO, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=GOTHIC, fontSize=18, leading=26, alignment=TA_CENTER),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "heading": ParagraphStyle("heading", base, fontName=GOTHIC, fontSize=11.5, leading=18, spaceBefore=8),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=11),
        "label": ParagraphStyle("label", base, fontName=GOTHIC, fontSize=8.5, leading=11),
    }


def _table(data: list[list[Flowable]], widths: list[float], header: bool) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    else:
        style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table


def _section(section: Section, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(escape(section.heading), s["heading"])]
    if section.pairs:
        data = [[Paragraph(escape(k), s["label"]), Paragraph(escape(v), s["cell"])] for k, v in section.pairs]
        story.append(_table(data, [40 * mm, _WIDTH - 40 * mm], header=False))
    if section.header:
        width = _WIDTH / len(section.header)
        data = [[Paragraph(escape(h), s["label"]) for h in section.header]]
        data += [[Paragraph(escape(cell), s["cell"]) for cell in row] for row in section.rows]
        story.append(_table(data, [width] * len(section.header), header=True))
    story += [Paragraph(escape(note), s["body"]) for note in section.notes]
    return story


def render(document: Document) -> bytes:
    """The PDF bytes of ``document`` (A4, embedded Japanese fonts)."""
    register_fonts()
    s = _styles()
    story: list[Flowable] = [
        Paragraph(escape(document.date_line), s["right"]),
        Paragraph(escape(document.issuer), s["right"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(document.title), s["title"]),
        Spacer(1, 4 * mm),
    ]
    for section in document.sections:
        story += _section(section, s)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=18 * mm
    )
    doc.title = document.title
    doc.build(story)
    return buffer.getvalue()
