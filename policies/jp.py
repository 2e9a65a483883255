"""Small Japanese-text helpers shared by the policies: name normalisation and 和暦 dates."""

from __future__ import annotations

import unicodedata
from datetime import date

# (first day, era name); newest first so the first match wins.
_ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
)


def normalise_name(name: str) -> str:
    """Fold width variants and spaces so that ``郵便番号``, ``郵便番号 `` and full-width forms compare equal."""
    folded = unicodedata.normalize("NFKC", name)
    return "".join(folded.split())


def wareki(day: date) -> str:
    """``令和8年3月1日`` style date; the first year of an era is written 元年 as on official documents."""
    for start, era in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{era}{year_text}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def wareki_with_iso(day: date) -> str:
    """和暦 with the 西暦 beside it, e.g. ``令和8年3月1日（2026-03-01）``."""
    return f"{wareki(day)}（{day.isoformat()}）"
