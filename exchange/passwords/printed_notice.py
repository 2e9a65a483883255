"""The printed password notice (パスワード通知書): one A4 page handed over or sent by registered mail.

It carries the password of one package and what the handler needs to open it, but never any of the data.
Japanese text uses embedded IPAex TrueType fonts (Debian ``fonts-ipaexfont``) so that it prints and extracts
correctly without viewer-side fonts; the password is set in Courier, whose glyphs tell ambiguous characters
apart and whose text extracts byte for byte.

The PDF is returned as bytes: it holds a secret, so the caller streams it to the user and does not store it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from ledger.documents.fonts import GOTHIC, MINCHO, letter_pdf, register_fonts
from ledger.wareki import to_wareki

INSTRUCTIONS: Final = (
    "本通知書のパスワードは、別途お届けする暗号化ZIPファイル（データ）を開くためのものです。"
    "データは本通知書とは別の機会・別の経路でお届けします。",
    "ZIPファイルは 7-Zip で開いてください（Windows標準の機能ではAES-256暗号化ZIPを開けません）。"
    "展開時にパスワードを求められたら、上記のパスワードを大文字・小文字を区別して入力してください。",
    "パスワードは契約書で届け出た取扱者以外に知らせないでください。複写・撮影・転記はしないでください。",
    "作業完了後、本通知書は契約の定めに従い速やかに返却するか、裁断等により復元できない方法で廃棄し、"
    "その旨を報告してください。",
    "本通知書を紛失した場合や、第三者に知られたおそれがある場合は、直ちに発行元へ連絡してください。",
)


@dataclass(frozen=True)
class PasswordNotice:
    issued_on: date
    issuer: str
    contractor: str
    handler: str
    contract_name: str
    package_id: str
    password: str = field(repr=False)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName=GOTHIC, fontSize=20, leading=28, alignment=TA_CENTER),
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "address": ParagraphStyle("address", base, fontName=GOTHIC, fontSize=12, leading=20),
        "label": ParagraphStyle("label", base, fontName=GOTHIC),
        "password": ParagraphStyle("password", base, fontName="Courier-Bold", fontSize=16, leading=22),
        # A UUID is 36 characters: at 12 pt it stays on one line, so it can be read out or typed unbroken.
        "identifier": ParagraphStyle("identifier", base, fontName="Courier", fontSize=12, leading=18),
        "item": ParagraphStyle("item", base, leftIndent=5 * mm, firstLineIndent=-5 * mm),
    }


def _story(notice: PasswordNotice) -> list[Flowable]:
    s = _styles()
    details = Table(
        [
            [Paragraph("契約名", s["label"]), Paragraph(escape(notice.contract_name), s["body"])],
            [Paragraph("パッケージID", s["label"]), Paragraph(escape(notice.package_id), s["identifier"])],
            [Paragraph("パスワード", s["label"]), Paragraph(escape(notice.password), s["password"])],
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
    story: list[Flowable] = [
        Paragraph(to_wareki(notice.issued_on), s["right"]),
        Spacer(1, 6 * mm),
        Paragraph(f"{escape(notice.contractor)}　御中", s["address"]),
        Paragraph(f"取扱者　{escape(notice.handler)}　様", s["address"]),
        Spacer(1, 4 * mm),
        Paragraph(escape(notice.issuer), s["right"]),
        Spacer(1, 10 * mm),
        Paragraph("パスワード通知書", s["title"]),
        Spacer(1, 8 * mm),
        Paragraph("下記の契約に基づき提供するデータのパスワードを通知します。", s["body"]),
        Spacer(1, 5 * mm),
        details,
        Spacer(1, 8 * mm),
        Paragraph("取扱いについて", s["label"]),
        Spacer(1, 2 * mm),
    ]
    story += [Paragraph(f"{n}．{escape(text)}", s["item"]) for n, text in enumerate(INSTRUCTIONS, 1)]
    return story


def render_password_notice(notice: PasswordNotice) -> bytes:
    """Return the notice as a one-page A4 PDF."""
    register_fonts()  # the story's paragraph styles name the fonts
    return letter_pdf(
        _story(notice), title="パスワード通知書", author=notice.issuer, subject=f"パッケージ {notice.package_id}"
    )
