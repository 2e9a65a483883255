"""The deployment examples under ``deploy/`` (systemd units, nginx, the production hub.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def deploy_dir() -> Path:
    return DEPLOY
