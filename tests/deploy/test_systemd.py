"""systemd accepts the example units, and each one runs the command and hardening the README describes."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import require_binary

INSTALLED = "/opt/handover/bin/handover"
ROLES = {
    "handover-web.service": "web",
    "handover-worker@.service": "worker",
    "handover-scheduler.service": "scheduler",
}
HARDENING = {
    "User": "handover",
    "ProtectSystem": "strict",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "EnvironmentFile": "/etc/handover/handover.env",
}


def service_section(path: Path) -> configparser.SectionProxy:
    # Repeated keys (LoadCredential=) are legal in units; the last one is enough for these checks.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys keep their case (ExecStart, not execstart)
    parser.read(path, encoding="utf-8")
    return parser["Service"]


def test_units_pass_systemd_analyze_verify(deploy_dir: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units are checked where systemd is)")
    # verify checks that ExecStart's program exists: point it at this checkout's installed command.
    program = require_binary("handover")
    for unit in (deploy_dir / "systemd").iterdir():
        text = unit.read_text(encoding="utf-8").replace(INSTALLED, program)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    names = [p.name.replace("@.", "@1.") for p in sorted(tmp_path.iterdir())]  # a template is checked as an instance
    assert len(names) == 5
    result = subprocess.run(
        [analyze, "verify", "--man=no", *[str(tmp_path / name) for name in names]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # verify answers 0 even for unknown keys and bad values; it names the file in each complaint.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if str(tmp_path) in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@pytest.mark.parametrize("unit", sorted(ROLES))
def test_each_role_runs_hardened(deploy_dir: Path, unit: str) -> None:
    service = service_section(deploy_dir / "systemd" / unit)
    assert service["ExecStart"] == f"{INSTALLED} --config /etc/handover/hub.toml serve --role {ROLES[unit]}"
    assert service["Restart"] == "on-failure"
    for key, value in HARDENING.items():
        assert service[key] == value, key
    assert "/var/lib/handover" in service["ReadWritePaths"].split()


def test_schema_upgrade_runs_once_before_the_roles(deploy_dir: Path) -> None:
    upgrade = service_section(deploy_dir / "systemd" / "handover-db-upgrade.service")
    assert upgrade["Type"] == "oneshot"
    assert upgrade["ExecStart"] == f"{INSTALLED} --config /etc/handover/hub.toml db upgrade"
    for unit in ROLES:
        text = (deploy_dir / "systemd" / unit).read_text(encoding="utf-8")
        assert "Requires=handover-db-upgrade.service" in text
        assert "handover-db-upgrade.service" in next(line for line in text.splitlines() if line.startswith("After="))
