"""Small Japanese-text helpers shared by the policies: name normalisation and 和暦 with 西暦."""

from __future__ import annotations

import unicodedata
from datetime import date

from ledger.wareki import to_wareki


def normalise_name(name: str) -> str:
    """Fold width variants and spaces so that ``郵便番号``, ``郵便番号 `` and full-width forms compare equal."""
    folded = unicodedata.normalize("NFKC", name)
    return "".join(folded.split())


def wareki_with_iso(day: date) -> str:
    """和暦 with the 西暦 beside it, e.g. ``令和8年3月1日（2026-03-01）``."""
    return f"{to_wareki(day)}（{day.isoformat()}）"
