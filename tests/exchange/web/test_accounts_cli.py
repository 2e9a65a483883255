"""``handover accounts …``: disabling an account revokes its API tokens at once and names who did it (C-10)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from exchange.cli import accounts, admin, database, setup


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin, accounts):
        module.register(main)
    return main


def test_disable_revokes_tokens_and_enable_restores_sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    runner = CliRunner()
    cli = _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["admin", "token", "create", "admin", "--name", "script"]).exit_code == 0
    listed = json.loads(runner.invoke(cli, ["accounts", "list", "--json"]).output)
    assert [(row["login"], row["active_tokens"], row["disabled_at"]) for row in listed] == [("admin", 1, None)]
    done = runner.invoke(cli, ["accounts", "disable", "admin", "--by", "情報政策課 山田", "--reason", "退職のため"])
    assert done.exit_code == 0, done.output
    assert "APIトークン1件失効" in done.output
    tokens = json.loads(runner.invoke(cli, ["accounts", "tokens", "admin"]).output)
    assert tokens[0]["revoked_at"] is not None
    shown = json.loads(runner.invoke(cli, ["accounts", "show", "admin"]).output)
    assert shown["disabled_at"] is not None and shown["active_tokens"] == 0
    assert runner.invoke(cli, ["accounts", "enable", "admin", "--by", "情報政策課 山田"]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["accounts", "show", "admin"]).output)["disabled_at"] is None
    assert "ロックされていません" in runner.invoke(cli, ["accounts", "unlock", "admin", "--by", "山田"]).output
    assert runner.invoke(cli, ["accounts", "end-sessions", "admin", "--by", "山田"]).exit_code == 0
    missing = runner.invoke(cli, ["accounts", "revoke-token", "admin", "no-such", "--by", "山田"])
    assert missing.exit_code == 2
    assert runner.invoke(cli, ["accounts", "disable", "nobody", "--by", "x", "--reason", "y"]).exit_code == 2
