"""First credentials out of band (C-22): the invitation letter's hand-over is recorded — when, by which member of
staff, how, to whom — and appears in the handover register of the person's contracts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from exchange.cli import main
from tests.factories import DEMO_FILES


@pytest.fixture
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", db_url)
    monkeypatch.setenv("TZ", "UTC")
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert runner.invoke(main, ["admin", "import", *map(str, DEMO_FILES)]).exit_code == 0
    return runner


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args))


def register_rows(runner: CliRunner, tmp_path: Path, contract: str) -> list[list[str]]:
    out = tmp_path / f"{contract}.csv"
    made = invoke(runner, "report", "handover", "--contract", contract, "--out", str(out))
    assert made.exit_code == 0, made.output
    return list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))


def test_invitation_handed_over_is_in_the_person_contracts_register(cli: CliRunner, tmp_path: Path) -> None:
    letter = tmp_path / "letter.pdf"
    typed = invoke(cli, "admin", "invite", "a-handler", "--out", str(letter), "--by", "区役 花子", "--method", "手渡し")
    assert typed.exit_code == 2 and "人物コード" in typed.output
    assert not letter.exists(), "a refused hand-over issues no letter"
    contractor = invoke(
        cli, "admin", "invite", "a-handler", "--out", str(letter), "--by", "a-manager", "--method", "手渡し"
    )
    assert contractor.exit_code == 2 and "区の職員ではありません" in contractor.output
    half = invoke(cli, "admin", "invite", "a-handler", "--out", str(letter), "--by", "staff-welfare")
    assert half.exit_code == 2 and "--method" in half.output

    issued = invoke(
        cli, "admin", "invite", "a-handler", "--out", str(letter), "--by", "staff-welfare", "--method", "手渡し"
    )
    assert issued.exit_code == 0, issued.output
    assert "見本 二郎（a-handler）" in issued.output and "s1-main" in issued.output

    rows = register_rows(cli, tmp_path, "s1-main")
    handed = [row for row in rows if "引渡し" in " ".join(row) and "手渡し" in " ".join(row)]
    assert len(handed) == 1, rows
    assert "区役 花子（staff-welfare）" in handed[0] and "見本 二郎（a-handler）" in handed[0]
    assert any("発行" in " ".join(row) and "見本 二郎（a-handler）" in row for row in rows), "the issue is listed too"


def test_letter_sent_later_by_registered_mail_is_recorded(cli: CliRunner, tmp_path: Path) -> None:
    unissued = invoke(cli, "admin", "invite-handed", "b-handler", "--by", "staff-welfare", "--method", "簡易書留")
    assert unissued.exit_code == 2 and "発行済みの招待がありません" in unissued.output
    assert invoke(cli, "admin", "invite", "b-handler", "--out", str(tmp_path / "b.pdf")).exit_code == 0
    bad = invoke(cli, "admin", "invite-handed", "b-handler", "--by", "staff-welfare", "--method", "FAX")
    assert bad.exit_code == 2
    sent = invoke(cli, "admin", "invite-handed", "b-handler", "--by", "staff-welfare", "--method", "簡易書留")
    assert sent.exit_code == 0, sent.output
    rows = register_rows(cli, tmp_path, "s1-print")
    [line] = [row for row in rows if "簡易書留" in row]
    assert "区役 花子（staff-welfare）" in line and "印刷 四郎（b-handler）" in line
    assert register_rows(cli, tmp_path, "s1-main")[1:] == [], "not in the register of a contract of someone else"
