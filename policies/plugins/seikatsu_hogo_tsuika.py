"""生活保護 追加給付 (S1): additional welfare benefits after the Supreme Court ruling of 2025-06-27.

Push type (プッシュ型): households on assistance now are paid ex officio. Application type (申請型): closed
households apply; the application is checked against the welfare-system extract (did the household receive
assistance from 平成25年8月 on, in the period it claims?). The plugin counts households and notices for the
register.

Welfare-system extract format (CSV, any encoding :mod:`policies.tabular` reads):
``世帯番号,氏名,生年月日,保護開始日,保護廃止日`` — dates ``YYYY-MM-DD`` or ``YYYY/MM/DD``, 保護廃止日 empty
while assistance continues.

The application-type check runs on the entered application data the contractor uploads on the portal
(``check_returned_records``): each record's 氏名, 生年月日 and 生活保護受給期間 (``2013-08-01～2018-09-30``,
``2013/08～2018/09`` or ``平成25年8月～平成30年9月``) against the extract the ward registered for the contract
(``handover reference load``). The hub does not hold the extract otherwise: the contractor's packages carry
neither 生年月日 nor the assistance dates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from policies.dummy_people import DummyPeople
from policies.errors import PolicyRefusal, RefusalCode
from policies.hookspecs import DummyTable, PackageDescription, Quantity, Record, RecordProblem, hookimpl
from policies.jp import normalise_name
from policies.tabular import open_table

PROGRAM = "seikatsu-hogo-tsuika"
PROGRAMS = frozenset({PROGRAM})

CONTRACTOR_ITEMS = ("郵便番号", "住所", "氏名", "保護の種類及び程度", "対象期間", "保護決定理由", "振込先口座情報")
SUBCONTRACTOR_ITEMS = CONTRACTOR_ITEMS[:-1]
HOUSEHOLD = "世帯番号"
KIND = "給付区分"
PUSH = "プッシュ型"
APPLICATION = "申請型"
ELIGIBLE_FROM = date(2013, 8, 1)
_POSTAL = re.compile(r"\d{3}-?\d{4}")


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` or ``YYYY/MM/DD``."""
    return datetime.strptime(text.strip().replace("/", "-"), "%Y-%m-%d").date()


@dataclass(frozen=True)
class AssistanceRecord:
    """A welfare-system extract row: one assistance spell of a household head."""

    household: str
    name: str
    birth: date
    started: date
    ended: date | None


@dataclass(frozen=True)
class Application:
    """An application-type claim: who applies and the period they say assistance was received."""

    reception_no: str
    name: str
    birth: date
    claimed_from: date
    claimed_to: date


@dataclass(frozen=True)
class ApplicationCheck:
    """The outcome for one application; ``household`` is the matched extract household."""

    reception_no: str
    eligible: bool
    household: str | None
    reason: str


ExtractIndex = Mapping[tuple[str, date], Sequence[AssistanceRecord]]


def index_extract(records: Iterable[AssistanceRecord]) -> dict[tuple[str, date], list[AssistanceRecord]]:
    """Index extract rows by (folded name, birth date), the keys an application carries."""
    index: dict[tuple[str, date], list[AssistanceRecord]] = {}
    for record in records:
        index.setdefault((normalise_name(record.name), record.birth), []).append(record)
    return index


def extract_index(rows: Iterable[Record]) -> dict[tuple[str, date], list[AssistanceRecord]]:
    """Index the extract's records (format in the module docstring); refuses an extract in the wrong shape."""
    try:
        return index_extract(
            AssistanceRecord(
                household=row[HOUSEHOLD],
                name=row["氏名"],
                birth=parse_date(row["生年月日"]),
                started=parse_date(row["保護開始日"]),
                ended=parse_date(row["保護廃止日"]) if row["保護廃止日"].strip() else None,
            )
            for row in rows
        )
    except (KeyError, ValueError) as exc:
        raise PolicyRefusal(
            RefusalCode.MALFORMED, f"生活保護システムの抽出データの形式が正しくありません（{exc}）。"
        ) from exc


def check_application(application: Application, extract: ExtractIndex) -> ApplicationCheck:
    """Did the applicant's household receive assistance from 平成25年8月 on, within the claimed period?"""
    spells = extract.get((normalise_name(application.name), application.birth), ())
    if not spells:
        return ApplicationCheck(
            application.reception_no, False, None, "生活保護システムに該当する受給記録がありません。"
        )
    claimed_from = max(application.claimed_from, ELIGIBLE_FROM)
    for spell in spells:
        if spell.ended is None:
            return ApplicationCheck(
                application.reception_no, False, spell.household, "現在受給中の世帯のため、プッシュ型で支給します。"
            )
        if spell.started <= application.claimed_to and claimed_from <= spell.ended:
            return ApplicationCheck(application.reception_no, True, spell.household, "受給期間を確認しました。")
    return ApplicationCheck(
        application.reception_no,
        False,
        spells[0].household,
        "申請の受給期間（平成25年8月以降）に受給記録がありません。",
    )


_ERAS = {"明治": 1867, "大正": 1911, "昭和": 1925, "平成": 1988, "令和": 2018}
_WAREKI_MONTH = re.compile(r"(明治|大正|昭和|平成|令和)(\d+|元)年(\d+)月(?:(\d+)日)?")
_PERIOD_SEPARATOR = re.compile(r"\s*[～〜~]\s*")
PERIOD = "生活保護受給期間"


def _period_end(text: str, *, end: bool) -> date:
    """One end of a claimed period; a month without a day means its first day (start) or last day (end)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if match := _WAREKI_MONTH.fullmatch(text):
        era, year, month, day = match.groups()
        parts = (_ERAS[era] + (1 if year == "元" else int(year)), int(month), int(day) if day else None)
    elif match := re.fullmatch(r"(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?", text):
        parts = (int(match[1]), int(match[2]), int(match[3]) if match[3] else None)
    else:
        raise ValueError(text)
    year, month, day = parts
    if day is not None:
        return date(year, month, day)
    if not end:
        return date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def parse_period(text: str) -> tuple[date, date]:
    """``2013-08-01～2018-09-30``, ``2013/08～2018/09`` or ``平成25年8月～平成30年9月``."""
    start, end = _PERIOD_SEPARATOR.split(text.strip(), maxsplit=1)
    return _period_end(start, end=False), _period_end(end, end=True)


def _application(number: int, record: Record) -> Application | RecordProblem:
    try:
        birth = parse_date(record["生年月日"])
    except ValueError:
        return RecordProblem(number, "生年月日", "生年月日は「1950-01-02」の形式で入力してください。")
    try:
        claimed_from, claimed_to = parse_period(record[PERIOD])
    except ValueError:
        return RecordProblem(number, PERIOD, "生活保護受給期間は「平成25年8月～平成30年9月」の形式で入力してください。")
    return Application(str(number), record["氏名"], birth, claimed_from, claimed_to)


@hookimpl
def check_returned_records(
    kind: str, columns: tuple[str, ...], records: Sequence[Record], reference: Sequence[Record] | None
) -> list[RecordProblem]:
    if reference is not None and not records:
        extract_index(reference)  # a reference being loaded: refuse one in the wrong shape now
        return []
    if kind != "entered_data" or not {"氏名", "生年月日", PERIOD} <= set(columns):
        return []
    applications = [r for r in enumerate(records, start=1) if r[1].get(KIND, APPLICATION) == APPLICATION]
    if not applications:
        return []
    if reference is None:
        return [
            RecordProblem(
                0, None, "照合用の生活保護システム抽出データが登録されていないため、申請型の照合ができていません。"
            )
        ]
    extract = extract_index(reference)
    problems: list[RecordProblem] = []
    for number, record in applications:
        application = _application(number, record)
        if isinstance(application, RecordProblem):
            problems.append(application)
            continue
        result = check_application(application, extract)
        if not result.eligible:
            problems.append(RecordProblem(number, None, result.reason))
    return problems


@hookimpl
def default_items(role: str) -> tuple[str, ...] | None:
    return {"contractor": CONTRACTOR_ITEMS, "subcontractor": SUBCONTRACTOR_ITEMS}.get(role)


@hookimpl
def validate_records(
    columns: tuple[str, ...], records: Sequence[Record], first_record: int, context: MutableMapping[str, object]
) -> list[RecordProblem]:
    seen = context.setdefault(f"{PROGRAM}:households", set())
    assert isinstance(seen, set)
    problems: list[RecordProblem] = []
    for number, record in enumerate(records, start=first_record):
        if "郵便番号" in columns and not _POSTAL.fullmatch(record["郵便番号"]):
            problems.append(RecordProblem(number, "郵便番号", "郵便番号は「123-4567」の形式で入力してください。"))
        if "氏名" in columns and not record["氏名"].strip():
            problems.append(RecordProblem(number, "氏名", "氏名が空欄です。"))
        if KIND in columns and record[KIND] not in (PUSH, APPLICATION):
            problems.append(RecordProblem(number, KIND, f"給付区分は「{PUSH}」か「{APPLICATION}」です。"))
        if HOUSEHOLD in columns:
            if record[HOUSEHOLD] in seen:
                problems.append(RecordProblem(number, HOUSEHOLD, "同じ世帯番号が複数あります（1世帯1通知）。"))
            seen.add(record[HOUSEHOLD])
    return problems


@hookimpl
def describe_package(table_path: Path, records: int) -> PackageDescription:
    households: set[str] = set()
    kinds = {PUSH: 0, APPLICATION: 0}
    with open_table(table_path) as table:
        if HOUSEHOLD in table.header or KIND in table.header:
            for row in table:
                record = dict(zip(table.header, row, strict=False))
                households.add(record.get(HOUSEHOLD, str(table.record)))
                if record.get(KIND) in kinds:
                    kinds[record[KIND]] += 1
    count = len(households) if households else records
    detail = "、".join(f"{kind}{n}件" for kind, n in kinds.items() if n)
    return PackageDescription(
        content=f"生活保護追加給付 対象者データ{f'（{detail}）' if detail else ''}",
        quantities=(
            Quantity("records", "件数", records),
            Quantity("households", "世帯数", count),
            Quantity("notices", "通知書数", count),
        ),
    )


_KINDS_OF_ASSISTANCE = ("生活扶助（全部）", "生活扶助（一部）・住宅扶助", "生活扶助・住宅扶助・医療扶助")
_PERIODS = ("平成25年8月～平成30年9月", "平成26年4月～令和2年3月", "平成25年8月～令和7年3月")
_REASON = "平成25年生活扶助基準改定に係る最高裁判決（令和7年6月27日）に基づく保護費等の追加給付"


@hookimpl
def dummy_records(rows: int, seed: int) -> DummyTable:
    people = DummyPeople(seed)

    def generate() -> Iterable[Sequence[str]]:
        for _ in range(rows):
            person = people.person()
            yield (
                person.postal_code,
                person.address,
                person.name,
                people.choice(_KINDS_OF_ASSISTANCE),
                people.choice(_PERIODS),
                _REASON,
                person.account,
            )

    return DummyTable(columns=CONTRACTOR_ITEMS, rows=iter(generate()))
