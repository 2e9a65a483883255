"""The Japanese fonts every PDF of the hub embeds (notices, letters, labels, reports, certificates).

IPAex TrueType fonts (Debian ``fonts-ipaexfont``) are embedded as subsets, so text extracts exactly and prints
the same everywhere; reportlab's built-in CID fonts are not embedded and lose their text where poppler-data is
absent (see TESTING.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

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
