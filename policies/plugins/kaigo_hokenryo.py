"""介護保険料 納入通知書 (S2): mass-printed insurance-premium notices.

The seed's item list (資料7-4) is not in our sources, so the items below are an illustrative extract shape
(one row per notice). The register counts notices per notice type. The printer's print log (C-17) is checked
by the one print-log parser, ``exchange.oversight.print_logs``, which also reads this program's former column
names (端末名, ファイル名, プリンタ名, ページ数, 再印刷理由).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from policies.dummy_people import DummyPeople
from policies.errors import PolicyRefusal, RefusalCode
from policies.hookspecs import DummyTable, PackageDescription, Quantity, Record, RecordProblem, Settings, hookimpl
from policies.tabular import open_table

PROGRAM = "kaigo-hokenryo"
PROGRAMS = frozenset({PROGRAM})

ITEMS = ("通知書番号", "被保険者番号", "郵便番号", "住所", "氏名", "通知種別", "所得段階", "年間保険料額")
NOTICE_TYPE = "通知種別"
NOTICE_TYPES = ("納入通知書", "決定通知書", "変更通知書", "特別徴収開始通知書")
_INSURED_NO = re.compile(r"\d{10}")
# 第1号被保険者 (most notices) are 65 or older.
_BORN_BEFORE = date(1960, 12, 31)


@hookimpl
def default_items(role: str) -> tuple[str, ...] | None:
    # The printer gets the whole notice; a sub-contracted printer needs the same fields to print it.
    return ITEMS if role in ("contractor", "subcontractor") else None


GRADE = "所得段階"
PREMIUM = "年間保険料額"
# 所得段階 is 第1段階 to 第13段階 under the national standard (介護保険法施行令, from FY2024); a ward with more
# grades of its own (Tokyo's wards have up to 17 and more) sets ``grades`` in the program's settings.
STANDARD_GRADES = 13
_GRADE = re.compile(r"第([1-9][0-9]*)段階")


def _grade_problem(number: int, text: str, grades: int) -> RecordProblem | None:
    match = _GRADE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None or int(match[1]) > grades:
        return RecordProblem(number, GRADE, f"所得段階「{text}」は第1段階から第{grades}段階のいずれかです。")
    return None


def _premium_problem(number: int, text: str) -> RecordProblem | None:
    digits = unicodedata.normalize("NFKC", text).replace(",", "").replace("円", "").strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
        return RecordProblem(number, PREMIUM, f"年間保険料額「{text}」は1円以上の整数（円）です。")
    return None


@hookimpl
def validate_records(
    settings: Settings, columns: tuple[str, ...], records: Sequence[Record], first_record: int
) -> list[RecordProblem]:
    grades = settings.get("grades", STANDARD_GRADES)
    if not isinstance(grades, int) or isinstance(grades, bool) or grades < 1:
        # A configuration mistake: every file would be judged wrongly, so say so instead of judging any.
        raise PolicyRefusal(
            RefusalCode.PLUGIN,
            f"設定 plugins.programs.{PROGRAM}.settings.grades（所得段階の数）が1以上の整数ではありません: {grades!r}",
        )
    problems: list[RecordProblem] = []
    for number, record in enumerate(records, start=first_record):
        if GRADE in columns and (problem := _grade_problem(number, record[GRADE], grades)):
            problems.append(problem)
        if PREMIUM in columns and (problem := _premium_problem(number, record[PREMIUM])):
            problems.append(problem)
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
