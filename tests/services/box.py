"""The Box API emulator as fixtures: ``box_emulator``, and ``box_connector`` (a BoxConnector pointed at it)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from connectors.box import BoxConnector
from tests.boxemu import BoxEmulator
from tests.factories import TOKYO


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
        TOKYO,
        client_id=emulator.state.client_id,
        client_secret=client_secret or emulator.state.client_secret,
        enterprise_id=emulator.state.enterprise_id,
        base_url=emulator.url,
        chunked_threshold=chunked_threshold,
        max_attempts=max_attempts,
        retry_base_interval=0.01,
    )


@pytest.fixture
def box_emulator() -> Iterator[BoxEmulator]:
    """An emulator on its own thread; its blobs live outside ``tmp_path``, which the tests inspect themselves."""
    with tempfile.TemporaryDirectory(prefix="boxemu-") as storage:
        emulator = BoxEmulator(Path(storage))
        emulator.start()
        try:
            yield emulator
        finally:
            emulator.stop()


@pytest.fixture
async def box_connector(box_emulator: BoxEmulator) -> AsyncIterator[BoxConnector]:
    connector = connector_for(box_emulator)
    yield connector
    await connector.close()
