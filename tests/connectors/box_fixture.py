"""Fixtures for Box: ``box_emulator`` and ``box_connector`` (a BoxConnector pointed at that emulator).

Both fixtures share one emulator per test through the test item's stash rather than by depending on each
other, so a conftest may import either one alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.base import Jurisdiction
from connectors.box import BoxConnector
from tests.boxemu import BoxEmulator

_EMULATOR = pytest.StashKey[BoxEmulator]()


def emulator_for(request: pytest.FixtureRequest) -> BoxEmulator:
    stash: pytest.Stash = request.node.stash
    if _EMULATOR not in stash:
        storage = tempfile.TemporaryDirectory(prefix="boxemu-")
        emulator = BoxEmulator(Path(storage.name))
        emulator.start()
        stash[_EMULATOR] = emulator

        def finish() -> None:
            emulator.stop()
            storage.cleanup()

        request.node.addfinalizer(finish)
    return stash[_EMULATOR]


def connector_for(
    emulator: BoxEmulator,
    *,
    client_secret: str | None = None,
    max_attempts: int = 5,
    chunked_threshold: int = 50 * 1024 * 1024,
) -> BoxConnector:
    """A connector for the emulator, with quick retry backoff so fault tests stay fast."""
    return BoxConnector(
        "box-test",
        Jurisdiction(country="jp", region="tokyo"),
        client_id=emulator.state.client_id,
        client_secret=client_secret or emulator.state.client_secret,
        enterprise_id=emulator.state.enterprise_id,
        base_url=emulator.url,
        chunked_threshold=chunked_threshold,
        max_attempts=max_attempts,
        retry_base_interval=0.01,
    )


@pytest.fixture
def box_emulator(request: pytest.FixtureRequest) -> BoxEmulator:
    return emulator_for(request)


@pytest.fixture
async def box_connector(request: pytest.FixtureRequest) -> AsyncIterator[BoxConnector]:
    connector = connector_for(emulator_for(request))
    yield connector
    await connector.close()
