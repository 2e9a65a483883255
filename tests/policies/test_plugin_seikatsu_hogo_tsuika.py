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


def test_read_extract(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "extract.csv",
        "世帯番号,氏名,生年月日,保護開始日,保護廃止日\r\nH1,佐藤 太郎,1950/01/01,2010-04-01,2016-03-31\r\n"
        "H3,田中 一郎,1970-03-03,2015-01-01,\r\n",
    )
    index = s1.read_extract(path)
    assert index[("佐藤太郎", date(1950, 1, 1))][0].ended == date(2016, 3, 31)
    assert index[("田中一郎", date(1970, 3, 3))][0].ended is None
    bad = _csv(tmp_path / "bad.csv", "世帯番号,氏名,生年月日,保護開始日,保護廃止日\r\nH1,x,昭和,2010-04-01,\r\n")
    with pytest.raises(PolicyRefusal, match="抽出データ"):
        s1.read_extract(bad)


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
