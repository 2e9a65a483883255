"""The database each fault test's hubs use: a new SQLite file, or a new, empty PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/var/handover.db"
    return str(request.getfixturevalue("empty_pg_url"))
