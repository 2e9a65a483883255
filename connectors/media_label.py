"""Printable label for a DVD medium (C-21): media id, contract, prepared date in 和暦, contents list.

The label travels with the disc, so it must never carry the package password (C-02: password on a separate
occasion); it is built only from the medium description, which holds no secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

# Pure helpers shared with the hub's other PDFs; connectors still never touch the database.
from ledger.documents.fonts import GOTHIC, register_fonts
from ledger.wareki import to_wareki

if TYPE_CHECKING:
    from connectors.media import MediumDescription


def render_label(medium: MediumDescription, output: Path) -> None:
    """Write an A4 label sheet for ``medium`` to ``output``; continues on further pages for long lists."""
    register_fonts()
    width, height = A4
    left = 20 * mm
    usable = width - 2 * left
    canvas = Canvas(str(output), pagesize=A4, invariant=True)
    canvas.setTitle(f"媒体ラベル {medium.media_id}")
    y = height - 25 * mm

    def line(text: str, *, font: str = GOTHIC, size: float = 10, indent: float = 0) -> None:
        nonlocal y
        for part in simpleSplit(text, font, size, usable - indent) or [""]:
            if y < 20 * mm:
                canvas.showPage()
                y = height - 20 * mm
            canvas.setFont(font, size)
            canvas.drawString(left + indent, y, part)
            y -= size * 1.5

    line("電磁的記録媒体ラベル（DVD）", size=16)
    y -= 4 * mm
    line("媒体ID", size=10)
    line(medium.media_id, font="Courier-Bold", size=20, indent=5 * mm)
    line(f"契約名：{medium.contract_name}", size=11)
    line(f"作成日：{to_wareki(medium.prepared_on)}（{medium.prepared_on.isoformat()}）", size=11)
    total = sum(item.size for item in medium.files)
    line(f"収録ファイル：{len(medium.files)}件　合計 {total:,} バイト", size=11)
    line("イメージの SHA-256：", size=9)
    line(medium.image_sha256, font="Courier", size=8, indent=5 * mm)
    y -= 4 * mm
    line("内容一覧", size=12)
    for number, item in enumerate(medium.files, start=1):
        line(f"{number}. {item.name}（{item.size:,} バイト）", size=10, indent=3 * mm)
        line(f"SHA-256: {item.sha256}", font="Courier", size=7, indent=8 * mm)
    y -= 6 * mm
    line(
        "収録ファイルはすべて AES-256 で暗号化されています。パスワードは本媒体・本ラベルには記載せず、"
        "別の機会に別の経路でお知らせします。受領・返却・消去は管理簿に記録します。",
        size=9,
    )
    canvas.save()
