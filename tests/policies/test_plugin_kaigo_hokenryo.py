from __future__ import annotations

from pathlib import Path

import pytest

from policies.dummy import write_dummy_csv
from policies.errors import PolicyRefusal
from policies.pluginmanager import PluginConfig, ProgramConfig, ProgramHooks, build_plugin_manager
from policies.plugins import kaigo_hokenryo as s2


@pytest.fixture(scope="module")
def hooks() -> ProgramHooks:
    return build_plugin_manager(PluginConfig(entry_points=False)).for_program(s2.PROGRAM)


def test_counts_per_notice_type_and_validation(tmp_path: Path, hooks: ProgramHooks) -> None:
    path = tmp_path / "notices.csv"
    assert write_dummy_csv(s2.PROGRAM, 200, path, "cp932", seed=3) == 200
    assert hooks.validate_file(path) == []
    (description,) = hooks.describe_package(path, 200)
    per_type = {q.label: q.count for q in description.quantities if q.kind.startswith("notices:")}
    assert set(per_type) <= set(s2.NOTICE_TYPES)
    assert sum(per_type.values()) == 200
    assert hooks.default_items("contractor") == s2.ITEMS


def test_validation_problems(tmp_path: Path, hooks: ProgramHooks) -> None:
    path = tmp_path / "notices.csv"
    path.write_bytes("被保険者番号,通知種別\r\n123,督促状\r\n".encode())
    problems = hooks.validate_file(path)
    assert [(p.record, p.column) for p in problems] == [(1, "通知種別"), (1, "被保険者番号")]


@pytest.mark.parametrize(
    ("grade", "premium", "problems"),
    [
        ("第1段階", "20,000", []),
        ("第１３段階", "145000円", []),
        ("第99段階", "-5", [("所得段階", "第99段階"), ("年間保険料額", "-5")]),
        ("第0段階", "0", [("所得段階", "第0段階"), ("年間保険料額", "0")]),
        ("1段階", "12.5", [("所得段階", "1段階"), ("年間保険料額", "12.5")]),
    ],
)
def test_grade_and_premium(
    tmp_path: Path, hooks: ProgramHooks, grade: str, premium: str, problems: list[tuple[str, str]]
) -> None:
    path = tmp_path / "notices.csv"
    path.write_text(f'所得段階,年間保険料額\r\n{grade},"{premium}"\r\n', encoding="utf-8")
    found = hooks.validate_file(path)
    assert [(p.record, p.column) for p in found] == [(1, column) for column, _ in problems]
    for problem, (_, value) in zip(found, problems, strict=True):
        assert f"「{value}」" in problem.message


def test_a_ward_with_more_grades_sets_them(tmp_path: Path) -> None:
    config = PluginConfig(entry_points=False, programs={s2.PROGRAM: ProgramConfig(settings={"grades": 17})})
    hooks = build_plugin_manager(config).for_program(s2.PROGRAM)
    path = tmp_path / "notices.csv"
    path.write_text("所得段階,年間保険料額\r\n第17段階,300000\r\n第18段階,310000\r\n", encoding="utf-8")
    assert [(p.record, p.message) for p in hooks.validate_file(path)] == [
        (2, "所得段階「第18段階」は第1段階から第17段階のいずれかです。")
    ]


def test_a_wrong_grades_setting_refuses_rather_than_judges(tmp_path: Path) -> None:
    config = PluginConfig(entry_points=False, programs={s2.PROGRAM: ProgramConfig(settings={"grades": "17"})})
    hooks = build_plugin_manager(config).for_program(s2.PROGRAM)
    path = tmp_path / "notices.csv"
    path.write_text("所得段階,年間保険料額\r\n第1段階,300000\r\n", encoding="utf-8")
    with pytest.raises(PolicyRefusal, match="grades"):
        hooks.validate_file(path)
