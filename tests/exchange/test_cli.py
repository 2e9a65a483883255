"""The command line as an operator uses it: a real subprocess, real files, both databases."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from policies.plugins import kaigo_hokenryo
from tests.factories import DEMO_DIR, DEMO_FILES

ROOT = Path(__file__).parents[2]


def handover(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def hub_dir(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "hub.toml").write_text(
        f'data_dir = "var"\ndemo_dir = "{DEMO_DIR}"\n[database]\nurl = "{db_url}"\n'
        '[connectors.outbox]\nkind = "local"\nroot = "var/outbox"\njurisdiction = { country = "jp", region = "x" }\n',
        encoding="utf-8",
    )
    return tmp_path


def test_init_creates_keys_and_prints_the_admin_password_once(hub_dir: Path) -> None:
    first = handover("init", cwd=hub_dir)
    assert first.returncode == 0, first.stderr
    assert "password:" in first.stdout
    for key in ("master.key", "ledger-signing.key"):
        mode = stat.S_IMODE((hub_dir / "var" / key).stat().st_mode)
        assert mode == 0o600, key
    second = handover("init", cwd=hub_dir)
    assert second.returncode == 0, second.stderr
    assert "password:" not in second.stdout


def test_import_then_routes_list_json(hub_dir: Path) -> None:
    assert handover("init", cwd=hub_dir).returncode == 0
    imported = handover("admin", "import", *map(str, DEMO_FILES), cwd=hub_dir)
    assert imported.returncode == 0, imported.stderr
    listed = handover("routes", "list", "--json", cwd=hub_dir)
    assert listed.returncode == 0, listed.stderr
    routes = json.loads(listed.stdout)
    assert {r["code"] for r in routes} == {"s1-to-contractor", "s1-to-printer", "s2-notices", "s4-applicants"}
    for route in routes:
        assert Path(route["watch_dir"]).is_absolute()
        assert route["watch_dir"].startswith(str((hub_dir / "var").resolve()))


def test_bad_config_explains_and_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[database]\nurl = 'mysql://x'\n[web]\nprot = 1\n", encoding="utf-8")
    result = handover("--config", str(config), "config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "database: use sqlite+aiosqlite" in result.stderr
    assert "web.prot: unknown key" in result.stderr


def test_unreachable_database_is_one_clear_paragraph(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("[database]\nurl = 'postgresql+asyncpg://nobody:secretpw@127.0.0.1:1/none'\n", encoding="utf-8")
    result = handover("--config", str(config), "routes", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot be reached" in result.stderr
    assert "secretpw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_old_schema_asks_for_upgrade(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path}/empty.db'\n", encoding="utf-8")
    result = handover("--config", str(config), "routes", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert "handover db upgrade" in result.stderr
    upgraded = handover("--config", str(config), "db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert handover("--config", str(config), "routes", "list", cwd=tmp_path).returncode == 0


def test_import_reports_plugin_default_items_and_routes_list_shows_them(hub_dir: Path) -> None:
    assert handover("init", cwd=hub_dir).returncode == 0
    late = hub_dir / "late.toml"
    late.write_text(
        '[[contracts]]\ncode = "s2-late"\nname = "介護保険料通知書 印刷（追加分）"\nprogram = "kaigo-hokenryo"\n'
        'party = "printer-asp"\nstarts_on = 2026-11-01\nends_on = 2027-03-31\n\n'
        '[[routes]]\ncode = "s2-late"\nname = "介護保険料 追加分"\nprogram = "kaigo-hokenryo"\n'
        'watch_dir = "inbox/追加"\n'
        'targets = [{ contract = "s2-late", connector = "outbox" }]\n',
        encoding="utf-8",
    )
    imported = handover("admin", "import", *map(str, DEMO_FILES), str(late), cwd=hub_dir)
    assert imported.returncode == 0, imported.stderr
    items = "、".join(kaigo_hokenryo.ITEMS)
    assert "契約 's2-late'（介護保険料通知書 印刷（追加分））: allowed_items の指定がないため" in imported.stdout
    assert items in imported.stdout
    assert "imported: " in imported.stdout
    listed = handover("routes", "list", cwd=hub_dir)
    assert listed.returncode == 0, listed.stderr
    after = listed.stdout.split("s2-late  介護保険料 追加分", 1)[1]
    assert f"提供項目: {items}" in after
