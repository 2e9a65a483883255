"""The Japanese fonts every PDF of the hub embeds, and the A4 letter layout of notices and invitations.

IPAex TrueType fonts (Debian ``fonts-ipaexfont``) are embedded as subsets, so text extracts exactly and prints
the same everywhere; reportlab's built-in CID fonts are not embedded and lose their text where poppler-data is
absent (see TESTING.md).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Final

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, SimpleDocTemplate

GOTHIC: Final = "IPAexGothic"
MINCHO: Final = "IPAexMincho"
_FONT_FILES: Final = {
    GOTHIC: ("ipaexg.ttf", "fonts-japanese-gothic.ttf"),
    MINCHO: ("ipaexm.ttf", "fonts-japanese-mincho.ttf"),
}
_FONT_DIRS: Final = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic"),
    Path("/usr/share/fonts/opentype/ipaexfont-mincho"),
    Path("/usr/share/fonts/truetype/ipaexfont"),
    Path("/usr/share/fonts/truetype"),
    Path("/usr/local/share/fonts"),
)


class FontNotFoundError(RuntimeError):
    """The IPAex fonts are not installed."""


def font_path(name: str) -> Path:
    for directory in _FONT_DIRS:
        for filename in _FONT_FILES[name]:
            if (directory / filename).is_file():
                return directory / filename
    raise FontNotFoundError(f"font {_FONT_FILES[name][0]} not found; install the Debian package fonts-ipaexfont")


def register_fonts() -> None:
    """Register IPAex Gothic and Mincho with reportlab (once per process)."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name in _FONT_FILES:
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(font_path(name))))


def letter_pdf(story: list[Flowable], *, title: str, author: str, subject: str = "") -> bytes:
    """A portrait A4 letter (notices, invitations) with the fonts embedded, as PDF bytes."""
    register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=author,
        subject=subject,
    )
    document.build(story)
    return buffer.getvalue()
