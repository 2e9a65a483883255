from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from policies.dummy import write_dummy_csv
from policies.errors import PolicyRefusal
from policies.minimise import RecipientItems, minimise
from policies.pluginmanager import PluginConfig, ProgramHooks, build_plugin_manager
from policies.plugins import seikatsu_hogo_tsuika as s1

HEAD = ("世帯番号", *s1.CONTRACTOR_ITEMS)


@pytest.fixture(scope="module")
def hooks() -> ProgramHooks:
    return build_plugin_manager(PluginConfig(entry_points=False)).for_program(s1.PROGRAM)


def _csv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("cp932"))
    return path


def test_default_items_per_role(hooks: ProgramHooks) -> None:
    assert hooks.default_items("contractor") == s1.CONTRACTOR_ITEMS
    assert hooks.default_items("subcontractor") == tuple(i for i in s1.CONTRACTOR_ITEMS if i != "振込先口座情報")
    assert hooks.default_items("ward") is None


EXTRACT = [
    s1.AssistanceRecord("H1", "佐藤　太郎", date(1950, 1, 1), date(2010, 4, 1), date(2016, 3, 31)),
    s1.AssistanceRecord("H2", "鈴木 花子", date(1960, 2, 2), date(2012, 1, 1), date(2013, 7, 31)),
    s1.AssistanceRecord("H3", "田中 一郎", date(1970, 3, 3), date(2015, 1, 1), None),
]


@pytest.mark.parametrize(
    ("name", "birth", "period", "eligible", "household", "reason"),
    [
        ("佐藤 太郎", date(1950, 1, 1), (date(2013, 1, 1), date(2014, 1, 1)), True, "H1", "確認しました"),
        ("佐藤 太郎", date(1950, 1, 2), (date(2013, 1, 1), date(2014, 1, 1)), False, None, "受給記録がありません"),
        ("佐藤 太郎", date(1950, 1, 1), (date(2016, 4, 1), date(2018, 1, 1)), False, "H1", "平成25年8月以降"),
        ("鈴木 花子", date(1960, 2, 2), (date(2012, 1, 1), date(2013, 7, 31)), False, "H2", "平成25年8月以降"),
        ("田中 一郎", date(1970, 3, 3), (date(2015, 1, 1), date(2020, 1, 1)), False, "H3", "プッシュ型"),
    ],
)
def test_application_is_checked_against_the_extract(
    name: str, birth: date, period: tuple[date, date], eligible: bool, household: str | None, reason: str
) -> None:
    result = s1.check_application(s1.Application("A1", name, birth, *period), s1.index_extract(EXTRACT))
    assert (result.eligible, result.household) == (eligible, household)
    assert reason in result.reason


def test_extract_index(tmp_path: Path) -> None:
    header = {"世帯番号": "H1", "氏名": "佐藤 太郎", "生年月日": "1950/01/01", "保護開始日": "2010-04-01"}
    index = s1.extract_index(
        [
            {**header, "保護廃止日": "2016-03-31"},
            {**header, "世帯番号": "H3", "氏名": "田中 一郎", "生年月日": "1970-03-03", "保護廃止日": ""},
        ]
    )
    assert index[("佐藤太郎", date(1950, 1, 1))][0].ended == date(2016, 3, 31)
    assert index[("田中一郎", date(1970, 3, 3))][0].ended is None
    with pytest.raises(PolicyRefusal, match="抽出データ"):
        s1.extract_index([{**header, "生年月日": "昭和", "保護廃止日": ""}])


def test_validate_file_finds_problems_across_batches(tmp_path: Path, hooks: ProgramHooks) -> None:
    good = "000-0001,見本区,佐藤,生活扶助,期間,理由,口座"
    rows = [f"H{n},{good},プッシュ型" for n in range(1, 5)] + [f"H2,{good},プッシュ型", "H9,1600,見本区, ,a,b,c,d,随時"]
    path = _csv(tmp_path / "in.csv", ",".join((*HEAD, "給付区分")) + "\r\n" + "\r\n".join(rows) + "\r\n")
    problems = hooks.validate_file(path, batch_size=2)
    assert [(p.record, p.column) for p in problems] == [(5, "世帯番号"), (6, "郵便番号"), (6, "氏名"), (6, "給付区分")]
    assert len(hooks.validate_file(path, batch_size=2, limit=2)) == 2


def test_describe_package_counts_households_and_notices(tmp_path: Path, hooks: ProgramHooks) -> None:
    row = "000-0001,見本区,佐藤,生活扶助,期間,理由,口座"
    path = _csv(
        tmp_path / "in.csv",
        ",".join((*HEAD, "給付区分")) + f"\r\nH1,{row},プッシュ型\r\nH2,{row},申請型\r\nH3,{row},申請型\r\n",
    )
    (description,) = hooks.describe_package(path, 3)
    assert description.content == "生活保護追加給付 対象者データ（プッシュ型1件、申請型2件）"
    assert {q.kind: q.count for q in description.quantities} == {"records": 3, "households": 3, "notices": 3}


def test_dummy_extract_minimises_for_the_printer(tmp_path: Path, hooks: ProgramHooks) -> None:
    table = hooks.dummy_records(50, 1)
    assert table is not None
    assert table.columns == s1.CONTRACTOR_ITEMS
    source = tmp_path / "dummy.csv"
    write_dummy_csv(s1.PROGRAM, 50, source, "cp932")
    printer = RecipientItems(allowed=s1.SUBCONTRACTOR_ITEMS, drop=frozenset({"振込先口座情報"}))
    assert minimise(source, tmp_path / "out.csv", printer).records == 50
    assert hooks.validate_file(tmp_path / "out.csv") == []
    (description,) = hooks.describe_package(tmp_path / "out.csv", 50)
    assert {q.kind: q.count for q in description.quantities}["notices"] == 50
    assert description.content == "生活保護追加給付 対象者データ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("平成25年8月～平成30年9月", (date(2013, 8, 1), date(2018, 9, 30))),
        ("令和元年5月〜令和2年2月", (date(2019, 5, 1), date(2020, 2, 29))),
        ("2013-08-01～2018-09-30", (date(2013, 8, 1), date(2018, 9, 30))),
        ("2013/08 ~ 2013/12", (date(2013, 8, 1), date(2013, 12, 31))),
    ],
)
def test_claimed_periods_in_wareki_or_western_dates(text: str, expected: tuple[date, date]) -> None:
    assert s1.parse_period(text) == expected


REFERENCE = [
    {
        "世帯番号": "H1",
        "氏名": "佐藤 太郎",
        "生年月日": "1950-01-01",
        "保護開始日": "2010-04-01",
        "保護廃止日": "2016-03-31",
    },
    {"世帯番号": "H3", "氏名": "田中 一郎", "生年月日": "1970/03/03", "保護開始日": "2015-01-01", "保護廃止日": ""},
]


def test_returned_applications_are_checked_against_the_reference(hooks: ProgramHooks) -> None:
    columns = ("氏名", "生年月日", s1.PERIOD)
    records = [
        {"氏名": "佐藤　太郎", "生年月日": "1950-01-01", s1.PERIOD: "平成25年8月～平成28年3月"},
        {"氏名": "山田 次郎", "生年月日": "1955-05-05", s1.PERIOD: "平成25年8月～平成28年3月"},
        {"氏名": "田中 一郎", "生年月日": "1970-03-03", s1.PERIOD: "平成27年1月～令和2年1月"},
        {"氏名": "佐藤 太郎", "生年月日": "1950-01-01", s1.PERIOD: "去年から"},
    ]
    problems = hooks.check_returned_records("entered_data", columns, records, REFERENCE)
    assert [(p.record, p.column) for p in problems] == [(2, None), (3, None), (4, s1.PERIOD)]
    assert "受給記録がありません" in problems[0].message and "プッシュ型" in problems[1].message
    missing = hooks.check_returned_records("entered_data", columns, records, None)
    assert len(missing) == 1 and "登録されていない" in missing[0].message
    assert hooks.check_returned_records("print_log", columns, records, None) == []
    with pytest.raises(PolicyRefusal, match="抽出データ"):
        hooks.check_returned_records("", ("氏名",), [], [{"氏名": "x"}])
