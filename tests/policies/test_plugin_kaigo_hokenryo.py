from __future__ import annotations

from pathlib import Path

import pytest

from policies.dummy import write_dummy_csv
from policies.errors import PolicyRefusal
from policies.pluginmanager import PluginConfig, ProgramHooks, build_plugin_manager
from policies.plugins import kaigo_hokenryo as s2


@pytest.fixture(scope="module")
def hooks() -> ProgramHooks:
    return build_plugin_manager(PluginConfig(entry_points=False)).for_program(s2.PROGRAM)


def _log(*rows: tuple[str, int, str]) -> list[s2.PrintLogRow]:
    return [
        s2.PrintLogRow("PC-01", f"2026-07-0{i} 10:00", name, "PR-1", pages, reason)
        for i, (name, pages, reason) in enumerate(rows, 1)
    ]


def test_print_log_that_accounts_for_everything() -> None:
    expected = [s2.PrintDataFile("notice_001.pdf", 100), s2.PrintDataFile("notice_002.pdf", 50)]
    log = _log(("notice_001.pdf", 100, ""), ("notice_002.pdf", 50, ""), ("notice_002.pdf", 50, "紙詰まり"))
    assert s2.compare_print_log(expected, log) == []


def test_print_log_findings() -> None:
    expected = [s2.PrintDataFile("a.pdf", 10), s2.PrintDataFile("b.pdf", 20), s2.PrintDataFile("c.pdf", 5)]
    log = _log(("a.pdf", 10, ""), ("a.pdf", 10, ""), ("b.pdf", 19, ""), ("z.pdf", 1, ""), ("y.pdf", 1, ""))
    findings = s2.compare_print_log(expected, log)
    assert [(f.kind, f.file_name) for f in findings] == [
        ("reprint_reason", "a.pdf"),
        ("page_mismatch", "b.pdf"),
        ("not_printed", "c.pdf"),
        ("unknown_file", "y.pdf"),
        ("unknown_file", "z.pdf"),
    ]
    assert "2回目" in findings[0].message


def test_read_print_log(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    header = ",".join(s2.PRINT_LOG_COLUMNS)
    path.write_bytes(f"{header}\r\nPC-01,2026-07-01 10:00,a.pdf,PR-1,10, \r\n".encode("cp932"))
    assert list(s2.read_print_log(path)) == [s2.PrintLogRow("PC-01", "2026-07-01 10:00", "a.pdf", "PR-1", 10, "")]
    path.write_bytes("端末名,ファイル名\r\n".encode())
    with pytest.raises(PolicyRefusal, match="印刷日時"):
        list(s2.read_print_log(path))
    path.write_bytes(f"{header}\r\nPC,t,a.pdf,P,十,\r\n".encode())
    with pytest.raises(PolicyRefusal, match="ページ数"):
        list(s2.read_print_log(path))


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
