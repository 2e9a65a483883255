"""CSV output: UTF-8 with BOM (Excel reads it as UTF-8), or CP932 for older tools, CRLF line ends.

Contracts follow each other in one table whose first column names the contract. A character CP932 cannot hold
(𠮷, emoji, …) is never replaced: the whole report is refused with every such character and where it is, so
the person can choose UTF-8 or correct the source.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from ledger.reports.model import Cell, Report, ReportError, neutralise

ENCODINGS = ("utf-8-sig", "cp932")
_LABELS = {"utf-8-sig": "UTF-8（BOM付き）", "cp932": "CP932（Shift_JIS）"}
_PLACES_SHOWN = 3


class UnencodableError(ReportError):
    """Characters the chosen encoding cannot hold; ``characters`` maps each to the places it occurs."""

    def __init__(self, encoding: str, characters: dict[str, list[str]]) -> None:
        parts = []
        for char, places in characters.items():
            more = f"ほか{len(places) - _PLACES_SHOWN}か所" if len(places) > _PLACES_SHOWN else ""
            parts.append(f"「{char}」（U+{ord(char):04X}: {'、'.join(places[:_PLACES_SHOWN])}{more}）")
        super().__init__(
            f"{_LABELS[encoding]}で表せない文字があるため、CSVを作成しませんでした。UTF-8 を選ぶか、"
            f"元の記録を確認してください: {' '.join(parts)}"
        )
        self.encoding = encoding
        self.characters = characters


def _table(report: Report) -> Iterator[tuple[str, Sequence[Cell]]]:
    """Each line with where it is, for messages."""
    yield "見出し", ("契約", *(column.title for column in report.columns))
    for section in report.sections:
        for number, row in enumerate(section.rows, start=1):
            yield f"{section.code} の{number}行目", (section.code, *row)


def _unencodable(report: Report, encoding: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    fits: dict[str, bool] = {}
    titles = ("契約", *(column.title for column in report.columns))
    for where, row in _table(report):
        for title, value in zip(titles, row, strict=True):
            if not isinstance(value, str) or value.isascii():
                continue
            for char in dict.fromkeys(value):
                if char not in fits:
                    try:
                        char.encode(encoding)
                        fits[char] = True
                    except UnicodeEncodeError:
                        fits[char] = False
                if not fits[char]:
                    found.setdefault(char, []).append(f"{where}「{title}」")
    return found


def render(report: Report, encoding: str = "utf-8-sig") -> bytes:
    if encoding not in ENCODINGS:
        raise ReportError(f"CSV の文字コードは {'、'.join(ENCODINGS)} のいずれかです（{encoding}）。")
    if missing := _unencodable(report, encoding):
        raise UnencodableError(encoding, missing)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    for _, row in _table(report):
        writer.writerow([neutralise(value) for value in row])
    return output.getvalue().encode(encoding)
