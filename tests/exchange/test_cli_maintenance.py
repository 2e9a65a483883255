"""Maintenance commands in the situations issue 13 found them failing: a database from a newer handover, and the
ledger checked where the connectors' secrets are absent (an auditor's machine). Real subprocesses, both databases.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from ledger.db import create_engine
from ledger.migrate import head_revision
from tests.factories import DEMO_DIR, ROOT

FUTURE = "9999_from_a_newer_handover"

SFTP_WITHOUT_ITS_SECRET = """
[connectors.contractor]
kind = "sftp"
host = "127.0.0.1"
username = "ward"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0000000000000000000000000000000000000000000"
password = {{ file = "{missing}" }}
jurisdiction = {{ country = "jp", region = "x" }}
"""


def handover(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write_config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'data_dir = "var"\ndemo_dir = "{DEMO_DIR}"\n[database]\nurl = "{db_url}"\n'
        '[connectors.outbox]\nkind = "local"\nroot = "var/outbox"\njurisdiction = { country = "jp", region = "x" }\n'
        + extra,
        encoding="utf-8",
    )
    return config


async def _stamp(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        await engine.dispose()


def test_a_database_from_a_newer_handover_is_named_and_db_upgrade_refuses(tmp_path: Path, db_url: str) -> None:
    config = _write_config(tmp_path, db_url)
    asyncio.run(_stamp(db_url, FUTURE))

    served = handover("--config", str(config), "routes", "list", cwd=tmp_path)
    assert served.returncode == 2
    assert FUTURE in served.stderr and "newer version of handover" in served.stderr
    assert "Install that version of handover" in served.stderr
    assert "Run 'handover db upgrade'" not in served.stderr  # the old advice, which then crashed

    upgraded = handover("--config", str(config), "db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 2
    assert "Traceback" not in upgraded.stderr
    assert "newer version of handover" in upgraded.stderr and "cannot go back" in upgraded.stderr

    init = handover("--config", str(config), "init", cwd=tmp_path)
    assert init.returncode == 2 and "Traceback" not in init.stderr and FUTURE in init.stderr

    current = handover("--config", str(config), "db", "current", cwd=tmp_path)
    assert current.returncode == 0 and f"database: {FUTURE}; code: {head_revision()}" in current.stdout


def test_ledger_verify_runs_without_connector_secrets(tmp_path: Path, db_url: str) -> None:
    config = _write_config(tmp_path, db_url)
    assert handover("--config", str(config), "init", cwd=tmp_path).returncode == 0
    missing = tmp_path / "no-such-secret"
    _write_config(tmp_path, db_url, SFTP_WITHOUT_ITS_SECRET.format(missing=missing))

    verified = handover("--config", str(config), "ledger", "verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "Traceback" not in verified.stderr and "signatures were not checked" not in verified.stderr

    # The commands that do use connectors still insist on every secret.
    routes = handover("--config", str(config), "routes", "list", cwd=tmp_path)
    assert routes.returncode == 2 and "connectors.contractor.password" in routes.stderr
