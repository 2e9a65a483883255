"""``handover admin invite`` writes a private PDF letter whose code opens the setup page."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from exchange.cli import admin, database, setup
from tests.factories import DEMO_FILES
from tests.services import require_binary


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin):
        module.register(main)
    return main


def test_invite_writes_a_private_letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    runner = CliRunner()
    cli = _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["admin", "import", *map(str, DEMO_FILES)]).exit_code == 0
    out = tmp_path / "letter.pdf"
    result = runner.invoke(cli, ["admin", "invite", "a-handler", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    text = subprocess.run([require_binary("pdftotext"), str(out), "-"], capture_output=True, text=True, check=True)
    assert "a-handler" in text.stdout and "招待コード" in text.stdout
    assert runner.invoke(cli, ["admin", "invite", "a-handler", "--out", str(out)]).exit_code != 0
    token = runner.invoke(cli, ["admin", "token", "create", "a-handler", "--name", "LoGo"])
    assert token.exit_code == 0 and token.output.startswith("hvr_")
