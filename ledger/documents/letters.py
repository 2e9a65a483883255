"""The one A4 letter layout of the hub's printed notices: password notices and invitation letters.

Both are letters handed over or sent by registered mail that carry one secret (C-02, C-22): date, addressee,
issuer, a title, a table of what the reader needs (the secret in Courier, whose glyphs tell ambiguous characters
apart and whose text extracts byte for byte) and numbered instructions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from ledger.documents.fonts import GOTHIC, MINCHO, letter_pdf, register_fonts
from ledger.wareki import to_wareki


class ValueStyle(enum.Enum):
    TEXT = "text"
    # A UUID or an address: at 12 pt Courier a 36-character id stays on one line, to be read out or typed.
    IDENTIFIER = "identifier"
    SECRET = "secret"  # noqa: S105 - the name of a type style, not a secret


@dataclass(frozen=True)
class Detail:
    label: str
    value: str = field(repr=False)
    style: ValueStyle = ValueStyle.TEXT


@dataclass(frozen=True)
class Letter:
    issued_on: date
    addressees: tuple[str, ...]
    issuer: str
    title: str
    lead: str
    details: tuple[Detail, ...]
    steps_heading: str
    steps: tuple[str, ...]
    subject: str = ""


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=GOTHIC, fontSize=20, leading=28, alignment=TA_CENTER),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "address": ParagraphStyle("address", base, fontName=GOTHIC, fontSize=12, leading=20),
        "label": ParagraphStyle("label", base, fontName=GOTHIC),
        ValueStyle.TEXT.value: base,
        ValueStyle.SECRET.value: ParagraphStyle("secret", base, fontName="Courier-Bold", fontSize=16, leading=22),
        ValueStyle.IDENTIFIER.value: ParagraphStyle("identifier", base, fontName="Courier", fontSize=12, leading=18),
        "item": ParagraphStyle("item", base, leftIndent=5 * mm, firstLineIndent=-5 * mm),
    }


def _story(letter: Letter) -> list[Flowable]:
    s = _styles()
    details = Table(
        [
            [Paragraph(escape(d.label), s["label"]), Paragraph(escape(d.value), s[d.style.value])]
            for d in letter.details
        ],
        colWidths=[35 * mm, 125 * mm],
    )
    details.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.7, colors.black),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    story: list[Flowable] = [Paragraph(to_wareki(letter.issued_on), s["right"]), Spacer(1, 6 * mm)]
    story += [Paragraph(escape(line), s["address"]) for line in letter.addressees]
    story += [
        Spacer(1, 4 * mm),
        Paragraph(escape(letter.issuer), s["right"]),
        Spacer(1, 10 * mm),
        Paragraph(escape(letter.title), s["title"]),
        Spacer(1, 8 * mm),
        Paragraph(escape(letter.lead), s["body"]),
        Spacer(1, 5 * mm),
        details,
        Spacer(1, 8 * mm),
        Paragraph(escape(letter.steps_heading), s["label"]),
        Spacer(1, 2 * mm),
    ]
    story += [Paragraph(f"{n}．{escape(text)}", s["item"]) for n, text in enumerate(letter.steps, 1)]
    return story


def render_letter(letter: Letter) -> bytes:
    """The letter as a one-page A4 PDF with embedded Japanese fonts (CPU-bound: call it off the event loop)."""
    register_fonts()  # the story's paragraph styles name the fonts
    return letter_pdf(_story(letter), title=letter.title, author=letter.issuer, subject=letter.subject)
