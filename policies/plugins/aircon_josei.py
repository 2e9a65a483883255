"""エアコン購入費助成 (S4): subsidy for low-income and welfare households buying an air conditioner.

Eligible: households that are 住民税非課税 or 均等割のみ課税, receive 児童扶養手当, or receive 生活保護 (支援給付
included, as the seed says), and have no working air conditioner (未保有 / 故障). One grant per household,
amount = min(unit + installation + delivery + removal, ¥100,000).

Household identity: the item list has no household number, so duplicates are found on the folded 住所 unless
the program's settings name another column (``household_key``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.dummy_people import DummyPeople
from policies.hookspecs import (
    Derivation,
    DummyTable,
    PackageDescription,
    Quantity,
    Record,
    RecordProblem,
    Settings,
    hookimpl,
)
from policies.jp import normalise_name
from policies.tabular import open_table

PROGRAM = "aircon-josei"
PROGRAMS = frozenset({PROGRAM})

CONTRACTOR_ITEMS = (
    "申請受付番号", "氏名", "住所", "生年月日", "電話番号", "世帯構成", "住民税区分", "児童扶養手当受給の有無",
    "生活保護受給の有無", "エアコン保有状況", "建物状況", "申請日", "交付決定日", "振込先口座情報",
    "交付額確定日", "交付額",
)  # fmt: skip
_NOT_FOR_VISITS = frozenset({"申請日", "交付決定日", "振込先口座情報", "交付額確定日", "交付額"})
SUBCONTRACTOR_ITEMS = tuple(item for item in CONTRACTOR_ITEMS if item not in _NOT_FOR_VISITS)
COST_COLUMNS = ("本体費用", "設置工事費", "配送費", "撤去費")
AMOUNT = "交付額"
GRANT_CAP = 100_000
LOW_INCOME_TAX = frozenset({"非課税", "均等割のみ"})
NO_WORKING_AIRCON = frozenset({"未保有", "故障"})
YES = "有"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]


def eligibility(record: Record) -> Eligibility:
    """Why a household qualifies (``reasons`` lists the grounds) or why it does not."""
    grounds = []
    if record.get("住民税区分", "") in LOW_INCOME_TAX:
        grounds.append(f"住民税{record['住民税区分']}")
    if record.get("児童扶養手当受給の有無", "") == YES:
        grounds.append("児童扶養手当受給")
    if record.get("生活保護受給の有無", "") == YES:
        grounds.append("生活保護（支援給付を含む）受給")
    if not grounds:
        return Eligibility(False, ("住民税非課税・均等割のみ、児童扶養手当、生活保護のいずれにも該当しません。",))
    if record.get("エアコン保有状況", "") not in NO_WORKING_AIRCON:
        return Eligibility(False, ("冷房が使えるエアコンを保有しているため対象外です。",))
    return Eligibility(True, tuple(grounds))


def grant_amount(unit: int, installation: int, delivery: int, removal: int) -> int:
    """The grant for one household: the sum of the four costs, capped at ¥100,000."""
    costs = (unit, installation, delivery, removal)
    if any(cost < 0 for cost in costs):
        raise ValueError("costs must not be negative")
    return min(sum(costs), GRANT_CAP)


def _yen(text: str) -> int:
    """Whole yen from cell text such as ``98,000円`` (blank is 0); ValueError in Japanese when it is not."""
    digits = unicodedata.normalize("NFKC", text).replace(",", "").replace("円", "").strip()
    if digits and not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"「{text}」は金額（円単位の0以上の整数）ではありません")
    return int(digits or "0")


def _amount_problems(number: int, record: Record, columns: tuple[str, ...]) -> list[RecordProblem]:
    """The grant is whole yen, at most ¥100,000 per household, and never more than the costs it pays."""
    try:
        amount = _yen(record[AMOUNT])
    except ValueError as exc:
        return [RecordProblem(number, AMOUNT, f"交付額{exc}。")]
    if amount > GRANT_CAP:
        message = f"交付額{amount:,}円が1世帯あたりの上限{GRANT_CAP:,}円を超えています。"
        return [RecordProblem(number, AMOUNT, message)]
    if set(COST_COLUMNS) <= set(columns):
        try:
            costs = sum(_yen(record[column]) for column in COST_COLUMNS)
        except ValueError as exc:
            return [RecordProblem(number, None, f"費用の{exc}。")]
        if amount > costs:
            return [RecordProblem(number, AMOUNT, f"交付額{amount:,}円が費用の合計{costs:,}円を超えています。")]
    return []


def _household_key(record: Record, settings: Settings) -> str:
    column = str(settings.get("household_key", "住所"))
    return normalise_name(record.get(column, "")).replace("ー", "-").replace("−", "-")


@hookimpl
def default_items(role: str) -> tuple[str, ...] | None:
    return {"contractor": CONTRACTOR_ITEMS, "subcontractor": SUBCONTRACTOR_ITEMS}.get(role)


@hookimpl
def validate_records(
    settings: Settings,
    columns: tuple[str, ...],
    records: Sequence[Record],
    first_record: int,
    context: MutableMapping[str, object],
) -> list[RecordProblem]:
    seen = context.setdefault(f"{PROGRAM}:households", {})
    assert isinstance(seen, dict)
    checks_eligibility = "住民税区分" in columns
    problems: list[RecordProblem] = []
    for number, record in enumerate(records, start=first_record):
        if AMOUNT in columns:
            problems += _amount_problems(number, record, columns)
        if checks_eligibility:
            result = eligibility(record)
            if not result.eligible:
                problems.append(RecordProblem(number, None, result.reasons[0]))
        key = _household_key(record, settings)
        if key and key in seen:
            message = f"{seen[key]}件目と同じ世帯です（助成は1世帯につき1回）。"
            problems.append(RecordProblem(number, None, message))
        elif key:
            seen[key] = number
    return problems


@hookimpl
def derive_columns(columns: tuple[str, ...]) -> Derivation | None:
    if not set(COST_COLUMNS) <= set(columns) or AMOUNT in columns:
        return None

    def compute(record: Mapping[str, str]) -> Sequence[str]:
        return (str(grant_amount(*(_yen(record[column]) for column in COST_COLUMNS))),)

    return Derivation(columns=(AMOUNT,), compute=compute)


@hookimpl
def describe_package(table_path: Path, records: int) -> PackageDescription:
    total = 0
    with open_table(table_path) as table:
        if AMOUNT in table.header:
            index = table.header.index(AMOUNT)
            total = sum(_yen(row[index]) for row in table)
    quantities = [Quantity("records", "件数", records), Quantity("households", "世帯数", records)]
    if total:
        quantities.append(Quantity("amount_yen", "交付額合計（円）", total))
    return PackageDescription(content="エアコン購入費助成 申請者データ", quantities=tuple(quantities))


_HOUSEHOLDS = ("単身（高齢者）", "夫婦のみ", "ひとり親と子（乳幼児あり）", "障害者のいる世帯", "三世代同居")
_BUILDINGS = ("集合住宅（賃貸）", "戸建て（持家）", "二世帯住宅")


@hookimpl
def dummy_records(rows: int, seed: int) -> DummyTable:
    people = DummyPeople(seed)

    def generate() -> Iterator[Sequence[str]]:
        for number in range(1, rows + 1):
            person = people.person()
            amount = grant_amount(people.randint(50_000, 120_000), people.randint(10_000, 30_000), 3_000, 0)
            tax = people.choice(("非課税", "均等割のみ", "課税"))
            # A taxed household qualifies only through 児童扶養手当; keep every dummy household eligible.
            child_allowance = "有" if tax == "課税" else people.choice(("有", "無"))
            yield (
                f"AC{number:06d}",
                person.name,
                person.address,
                person.birth.isoformat(),
                person.phone,
                people.choice(_HOUSEHOLDS),
                tax,
                child_allowance,
                people.choice(("有", "無")),
                people.choice(("未保有", "故障")),
                people.choice(_BUILDINGS),
                "2026-05-01",
                "2026-05-20",
                person.account,
                "2026-06-30",
                str(amount),
            )

    return DummyTable(columns=CONTRACTOR_ITEMS, rows=generate())
