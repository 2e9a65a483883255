"""Box failures worded by what happened, with the right retryable flag, and an upload whose answer was lost.

Each case is produced by the emulator (or a closed port), so the wording is checked on what the SDK really
raises: the status decides, never the endpoint (a 500 from the token endpoint is Box failing, not our secret).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from connectors.base import ConnectorError
from connectors.box import BoxConnector
from tests.boxemu import BoxEmulator
from tests.factories import TOKYO
from tests.services.box import connector_for

FOLDER = "生活保護追加給付_委託先A"


def source(tmp_path: Path, data: bytes = b"payload") -> Path:
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    return path


async def refusal(connector: BoxConnector, tmp_path: Path) -> ConnectorError:
    try:
        with pytest.raises(ConnectorError) as caught:
            await connector.put(FOLDER, "p.zip", source(tmp_path), {})
    finally:
        await connector.close()
    return caught.value


@pytest.mark.parametrize(
    ("status", "path", "words", "retryable"),
    [
        (500, "/oauth2/token", "サーバーエラー", True),
        (503, "/2.0/folders", "サーバーエラー", True),
        (429, "/2.0/folders", "利用制限", True),
        (403, "/2.0/folders", "権限がありません", False),
        (404, "/2.0/files/content", "見つかりません", False),
        (409, "/2.0/folders", "競合しました", False),
    ],
)
async def test_box_answers_are_worded_by_status(
    box_emulator: BoxEmulator, tmp_path: Path, status: int, path: str, words: str, retryable: bool
) -> None:
    box_emulator.fail_next(100, status, path=path)
    error = await refusal(connector_for(box_emulator, max_attempts=2), tmp_path)
    assert words in error.reason_ja
    assert f"HTTP {status}" in error.reason_ja
    assert error.retryable is retryable
    assert "認証" not in error.reason_ja or status == 401
    assert not error.may_be_stored, "refused before any upload"


async def test_wrong_secret_is_an_authentication_failure(box_emulator: BoxEmulator, tmp_path: Path) -> None:
    error = await refusal(connector_for(box_emulator, client_secret="not-the-secret"), tmp_path)
    assert "認証に失敗" in error.reason_ja and not error.retryable


async def test_no_network_is_a_network_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    connector = BoxConnector(
        "box-test",
        TOKYO,
        client_id="id",
        client_secret="secret",
        enterprise_id="1",
        base_url=f"http://127.0.0.1:{port}",
        max_attempts=2,
        retry_base_interval=0.01,
    )
    error = await refusal(connector, tmp_path)
    assert "ネットワーク" in error.reason_ja and error.retryable


async def test_an_upload_whose_answer_was_lost_is_an_unknown_outcome_then_located(
    box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    """Box stores the upload, the answer and the network are lost: the connector says it may be stored."""
    box_emulator.partition_after(method="POST", path="/api/2.0/files/content")
    connector = connector_for(box_emulator, max_attempts=2)
    try:
        with pytest.raises(ConnectorError) as caught:
            await connector.put(FOLDER, "p.zip", source(tmp_path), {})
        assert caught.value.may_be_stored and caught.value.retryable
        assert [f.name for f in box_emulator.state.files.values()] == ["p.zip"], "Box did store it"

        box_emulator.heal()
        found = await connector.locate(FOLDER, "p.zip", source(tmp_path))
        assert found is not None
        await connector.verify(found, size=len(b"payload"), sha256=found.sha256 or "")
    finally:
        await connector.close()
