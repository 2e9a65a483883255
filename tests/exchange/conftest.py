"""A whole hub on a temporary data directory and a fresh database of each kind, with the demo data loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange.admin import bootstrap
from exchange.hub import HubServices, services
from tests.exchange.helpers import hub_settings
from tests.factories import load_demo


@pytest.fixture
async def hub(tmp_path: Path, db_url: str) -> AsyncIterator[HubServices]:
    settings = hub_settings(tmp_path, db_url)
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await load_demo(session, settings.data_dir.resolve())
        yield running
