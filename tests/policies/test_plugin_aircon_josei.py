from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from policies.dummy import write_dummy_csv
from policies.errors import PolicyRefusal
from policies.minimise import RecipientItems, minimise
from policies.pluginmanager import PluginConfig, ProgramConfig, ProgramHooks, build_plugin_manager
from policies.plugins import aircon_josei as s4
from policies.tabular import TableFormat, create_table


@pytest.fixture(scope="module")
def hooks() -> ProgramHooks:
    return build_plugin_manager(PluginConfig(entry_points=False)).for_program(s4.PROGRAM)


def _record(**changes: str) -> dict[str, str]:
    base = {
        "住民税区分": "課税",
        "児童扶養手当受給の有無": "無",
        "生活保護受給の有無": "無",
        "エアコン保有状況": "未保有",
    }
    return base | changes


@pytest.mark.parametrize(
    ("changes", "eligible", "ground"),
    [
        ({"住民税区分": "非課税"}, True, "住民税非課税"),
        ({"住民税区分": "均等割のみ"}, True, "住民税均等割のみ"),
        ({"児童扶養手当受給の有無": "有"}, True, "児童扶養手当受給"),
        ({"生活保護受給の有無": "有"}, True, "生活保護（支援給付を含む）受給"),
        ({}, False, "いずれにも該当しません"),
        ({"住民税区分": "非課税", "エアコン保有状況": "保有"}, False, "保有しているため"),
        ({"生活保護受給の有無": "有", "エアコン保有状況": "故障"}, True, "生活保護（支援給付を含む）受給"),
    ],
)
def test_eligibility(changes: dict[str, str], eligible: bool, ground: str) -> None:
    result = s4.eligibility(_record(**changes))
    assert result.eligible is eligible
    assert any(ground in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("costs", "amount"),
    [((60_000, 20_000, 3_000, 5_000), 88_000), ((90_000, 15_000, 3_000, 0), 100_000), ((0, 0, 0, 0), 0)],
)
def test_grant_amount_is_capped(costs: tuple[int, int, int, int], amount: int) -> None:
    assert s4.grant_amount(*costs) == amount


def test_negative_cost_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        s4.grant_amount(1, -1, 0, 0)


def test_derive_amount_column(hooks: ProgramHooks) -> None:
    (derivation,) = hooks.derive_columns(("氏名", *s4.COST_COLUMNS))
    assert derivation.columns == ("交付額",)
    record = {"本体費用": "98,000円", "設置工事費": "15000", "配送費": "", "撤去費": "0"}
    assert derivation.compute(record) == ("100000",)
    assert hooks.derive_columns(("氏名", "本体費用")) == []
    assert hooks.derive_columns((*s4.COST_COLUMNS, "交付額")) == []


def _write(path: Path, header: tuple[str, ...], rows: Sequence[Sequence[str]]) -> Path:
    with create_table(path, TableFormat("csv", "utf-8"), header) as writer:
        for row in rows:
            writer.write(row)
    return path


def test_one_grant_per_household_across_batches(tmp_path: Path, hooks: ProgramHooks) -> None:
    header = ("申請受付番号", "住所", "住民税区分", "エアコン保有状況")
    rows = [
        ("1", "見本区見本町1丁目1番1号", "非課税", "未保有"),
        ("2", "見本区見本町1丁目2番1号", "非課税", "未保有"),
        ("3", "見本区見本町１丁目１番１号", "非課税", "故障"),
        ("4", "見本区見本町1丁目3番1号", "課税", "未保有"),
    ]
    problems = hooks.validate_file(_write(tmp_path / "a.csv", header, rows), batch_size=2)
    assert [(p.record, p.message[:6]) for p in problems] == [(3, "1件目と同じ"), (4, "住民税非課税")]


def test_household_key_setting(tmp_path: Path) -> None:
    config = PluginConfig(
        entry_points=False, programs={s4.PROGRAM: ProgramConfig(settings={"household_key": "世帯番号"})}
    )
    hooks = build_plugin_manager(config).for_program(s4.PROGRAM)
    rows = [("X1", "同じ住所"), ("X2", "同じ住所"), ("X1", "別の住所")]
    problems = hooks.validate_file(_write(tmp_path / "a.csv", ("世帯番号", "住所"), rows))
    assert [p.record for p in problems] == [3]


def test_dummy_data_is_valid_and_visit_contractor_gets_fewer_items(tmp_path: Path, hooks: ProgramHooks) -> None:
    source = tmp_path / "dummy.csv"
    write_dummy_csv(s4.PROGRAM, 300, source, seed=5)
    assert hooks.validate_file(source) == []
    (description,) = hooks.describe_package(source, 300)
    quantities = {q.kind: q.count for q in description.quantities}
    assert quantities["households"] == 300
    assert 0 < quantities["amount_yen"] <= 300 * s4.GRANT_CAP
    visits = hooks.default_items("subcontractor")
    assert visits is not None
    assert not {"申請日", "交付決定日", "振込先口座情報", "交付額確定日", "交付額"} & set(visits)
    items = RecipientItems(allowed=visits, drop=frozenset(s4.CONTRACTOR_ITEMS) - set(visits))
    assert minimise(source, tmp_path / "visits.csv", items).columns == visits
    (plain,) = hooks.describe_package(tmp_path / "visits.csv", 300)
    assert "amount_yen" not in {q.kind for q in plain.quantities}


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("150000", "交付額150,000円が1世帯あたりの上限100,000円を超えています。"),
        ("-5", "交付額「-5」は金額（円単位の0以上の整数）ではありません。"),
        ("９万", "交付額「９万」は金額（円単位の0以上の整数）ではありません。"),
        ("90,000円", "交付額90,000円が費用の合計88,000円を超えています。"),
    ],
)
def test_amount_is_capped_and_checked(tmp_path: Path, hooks: ProgramHooks, amount: str, message: str) -> None:
    header = ("住所", *s4.COST_COLUMNS, s4.AMOUNT)
    rows = [
        ("見本区1", "60000", "20000", "3000", "5000", "88000"),
        ("見本区2", "60000", "20000", "3000", "5000", amount),
    ]
    problems = hooks.validate_file(_write(tmp_path / "a.csv", header, rows))
    assert [(p.record, p.column, p.message) for p in problems] == [(2, s4.AMOUNT, message)]


def test_derived_amount_only_for_a_recipient_allowed_it(tmp_path: Path, hooks: ProgramHooks) -> None:
    header = ("氏名", *s4.COST_COLUMNS)
    source = _write(tmp_path / "src.csv", header, [("見本 花子", "98,000円", "15000", "", "0")])
    costs = frozenset(s4.COST_COLUMNS)
    paid = RecipientItems(allowed=("氏名", s4.AMOUNT), drop=costs)
    result = minimise(source, tmp_path / "paid.csv", paid, derive=hooks.derive_columns)
    assert (result.columns, result.derived) == (("氏名", s4.AMOUNT), (s4.AMOUNT,))
    assert (tmp_path / "paid.csv").read_text(encoding="utf-8").splitlines() == ["氏名,交付額", "見本 花子,100000"]
    visits = minimise(
        source, tmp_path / "v.csv", RecipientItems(allowed=("氏名",), drop=costs), derive=hooks.derive_columns
    )
    assert (visits.columns, visits.derived, visits.dropped) == (("氏名",), (), s4.COST_COLUMNS)


def test_cost_that_cannot_be_computed_refuses_the_file(tmp_path: Path, hooks: ProgramHooks) -> None:
    header = ("氏名", *s4.COST_COLUMNS)
    source = _write(tmp_path / "src.csv", header, [("a", "1", "1", "1", "1"), ("b", "1", "x", "1", "1")])
    items = RecipientItems(allowed=("氏名", s4.AMOUNT), drop=frozenset(s4.COST_COLUMNS))
    with pytest.raises(PolicyRefusal, match=r"2件目のデータ.*「交付額」を計算できません: 「x」は金額"):
        minimise(source, tmp_path / "out.csv", items, derive=hooks.derive_columns)
    assert not (tmp_path / "out.csv").exists()
