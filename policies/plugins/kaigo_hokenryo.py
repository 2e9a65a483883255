"""介護保険料 納入通知書 (S2): mass-printed insurance-premium notices, and the printer's print-log check.

The seed's item list (資料7-4) is not in our sources, so the items below are an illustrative extract shape
(one row per notice). The register counts notices per notice type. The printer keeps a print log (C-17:
computer, time, file name, printer, pages) and must give a reason for anything printed twice or more;
:func:`compare_print_log` checks a log against the print-data files that were sent.

Print-log CSV format read by :func:`read_print_log`: ``端末名,印刷日時,ファイル名,プリンタ名,ページ数,再印刷理由``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from policies.dummy_people import DummyPeople
from policies.errors import PolicyRefusal, RefusalCode
from policies.hookspecs import DummyTable, PackageDescription, Quantity, Record, RecordProblem, hookimpl
from policies.tabular import open_table

PROGRAM = "kaigo-hokenryo"
PROGRAMS = frozenset({PROGRAM})

ITEMS = ("通知書番号", "被保険者番号", "郵便番号", "住所", "氏名", "通知種別", "所得段階", "年間保険料額")
NOTICE_TYPE = "通知種別"
NOTICE_TYPES = ("納入通知書", "決定通知書", "変更通知書", "特別徴収開始通知書")
PRINT_LOG_COLUMNS = ("端末名", "印刷日時", "ファイル名", "プリンタ名", "ページ数", "再印刷理由")
_INSURED_NO = re.compile(r"\d{10}")
# 第1号被保険者 (most notices) are 65 or older.
_BORN_BEFORE = date(1960, 12, 31)


@dataclass(frozen=True)
class PrintDataFile:
    """A print-data file sent to the printer and the pages it should produce."""

    name: str
    pages: int


@dataclass(frozen=True)
class PrintLogRow:
    """One print-log line as the printer reports it."""

    computer: str
    printed_at: str
    file_name: str
    printer: str
    pages: int
    reason: str


@dataclass(frozen=True)
class PrintLogFinding:
    """A discrepancy: ``kind`` is ``not_printed``, ``unknown_file``, ``page_mismatch`` or ``reprint_reason``."""

    kind: str
    file_name: str
    message: str


def read_print_log(path: Path) -> Iterator[PrintLogRow]:
    """Stream a print log in the format of the module docstring."""
    with open_table(path) as table:
        missing = [column for column in PRINT_LOG_COLUMNS if column not in table.header]
        if missing:
            raise PolicyRefusal(RefusalCode.MISSING_COLUMNS, f"印刷ログに列がありません: {'、'.join(missing)}。")
        for row in table:
            record = dict(zip(table.header, row, strict=False))
            if not record["ページ数"].isdigit():
                raise PolicyRefusal(
                    RefusalCode.MALFORMED, f"印刷ログの{table.location}のページ数が数値ではありません。"
                )
            yield PrintLogRow(
                computer=record["端末名"],
                printed_at=record["印刷日時"],
                file_name=record["ファイル名"],
                printer=record["プリンタ名"],
                pages=int(record["ページ数"]),
                reason=record["再印刷理由"].strip(),
            )


def compare_print_log(expected: Iterable[PrintDataFile], log: Iterable[PrintLogRow]) -> list[PrintLogFinding]:
    """Compare the print data sent with the print log; an empty list means the log accounts for everything.

    Each expected file must be printed with its page count; each print after the first needs a reason.
    """
    wanted = {item.name: item.pages for item in expected}
    prints: dict[str, list[PrintLogRow]] = {}
    for row in log:
        prints.setdefault(row.file_name, []).append(row)
    findings: list[PrintLogFinding] = []
    for name, pages in wanted.items():
        rows = prints.get(name, [])
        if not rows:
            findings.append(PrintLogFinding("not_printed", name, f"「{name}」の印刷記録がありません。"))
        elif rows[0].pages != pages:
            message = f"「{name}」の印刷ページ数が{rows[0].pages}で、印刷データの{pages}と一致しません。"
            findings.append(PrintLogFinding("page_mismatch", name, message))
        for repeat, row in enumerate(rows[1:], start=2):
            if not row.reason:
                message = f"「{name}」が{repeat}回目に印刷されていますが（{row.printed_at}）、理由の報告がありません。"
                findings.append(PrintLogFinding("reprint_reason", name, message))
    for name in sorted(prints.keys() - wanted.keys()):
        findings.append(
            PrintLogFinding("unknown_file", name, f"印刷データにないファイル「{name}」が印刷されています。")
        )
    return findings


@hookimpl
def default_items(role: str) -> tuple[str, ...] | None:
    # The printer gets the whole notice; a sub-contracted printer needs the same fields to print it.
    return ITEMS if role in ("contractor", "subcontractor") else None


@hookimpl
def validate_records(columns: tuple[str, ...], records: Sequence[Record], first_record: int) -> list[RecordProblem]:
    problems: list[RecordProblem] = []
    for number, record in enumerate(records, start=first_record):
        if NOTICE_TYPE in columns and record[NOTICE_TYPE] not in NOTICE_TYPES:
            problems.append(
                RecordProblem(number, NOTICE_TYPE, f"通知種別「{record[NOTICE_TYPE]}」は登録されていません。")
            )
        if "被保険者番号" in columns and not _INSURED_NO.fullmatch(record["被保険者番号"]):
            problems.append(RecordProblem(number, "被保険者番号", "被保険者番号は10桁の数字です。"))
    return problems


@hookimpl
def describe_package(table_path: Path, records: int) -> PackageDescription:
    counts: Counter[str] = Counter()
    with open_table(table_path) as table:
        if NOTICE_TYPE in table.header:
            index = table.header.index(NOTICE_TYPE)
            counts.update(row[index] for row in table)
    per_type = tuple(Quantity(f"notices:{kind}", kind, n) for kind, n in sorted(counts.items()))
    return PackageDescription(
        content="介護保険料 納入通知書等 印刷データ",
        quantities=(Quantity("records", "件数", records), *per_type),
    )


@hookimpl
def dummy_records(rows: int, seed: int) -> DummyTable:
    people = DummyPeople(seed)

    def generate() -> Iterator[Sequence[str]]:
        for number in range(1, rows + 1):
            person = people.person(born_before=_BORN_BEFORE)
            grade = people.randint(1, 13)
            yield (
                f"K{number:09d}",
                f"99{people.randint(0, 99_999_999):08d}",
                person.postal_code,
                person.address,
                person.name,
                people.choice(NOTICE_TYPES),
                f"第{grade}段階",
                str(20_000 + grade * 9_600),
            )

    return DummyTable(columns=ITEMS, rows=generate())
