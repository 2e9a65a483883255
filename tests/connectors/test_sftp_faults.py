"""SFTP under faults, against a real sshd behind a proxy: a stalled server, a killed connection, leftovers.

A stall must fail the delivery within the I/O timeout (retryable), not hold the worker; a temp ``.part`` file a
failed upload could not remove is removed by the next delivery to that folder once it is older than
``stale_part_age``, and one still young (a live upload) is left alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.base import ConnectorError
from connectors.options import JurisdictionOptions, SecretRef
from connectors.sftp import SftpConnector, SftpOptions, SftpTimeouts
from tests.factories import TOKYO
from tests.services.proxy import FaultyProxy
from tests.services.sshd import SshdServer

FOLDER = "委託先A"
IO_TIMEOUT = 2.0


def connector(server: SshdServer, port: int) -> SftpConnector:
    return SftpConnector(
        "sftp-test",
        TOKYO,
        host=server.host,
        port=port,
        username=server.username,
        host_key=server.host_public_key,
        client_key=server.client_private_key,
        root=str(server.root),
        timeouts=SftpTimeouts(connect=5.0, io=IO_TIMEOUT, keepalive_interval=60.0, stale_part_age=60.0),
    )


@pytest.fixture
async def proxy(sshd_server: SshdServer) -> AsyncIterator[FaultyProxy]:
    running = FaultyProxy(sshd_server.host, sshd_server.port)
    await running.start()
    yield running
    await running.close()


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.zip"
    path.write_bytes(os.urandom(6 * 1024 * 1024))
    return path


def parts(server: SshdServer) -> list[Path]:
    return sorted((server.root / FOLDER).glob(".handover-*.part"))


async def test_a_stalled_server_fails_within_the_io_timeout_and_the_next_delivery_cleans_up(
    sshd_server: SshdServer, proxy: FaultyProxy, big_file: Path, tmp_path: Path
) -> None:
    proxy.stall_after = 1024 * 1024
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        await connector(sshd_server, proxy.port).put(FOLDER, "a.zip", big_file, {})
    elapsed = time.monotonic() - started
    assert proxy.stalled.is_set(), "the transfer really stalled mid-way"
    assert elapsed < IO_TIMEOUT + 3, f"a stall held the delivery for {elapsed:.1f} s"
    assert caught.value.retryable and not caught.value.may_be_stored
    assert "応答しません" in caught.value.reason_ja
    assert not (sshd_server.root / FOLDER / "a.zip").exists()
    [left] = parts(sshd_server)  # the stalled connection could not remove it

    # A live upload's temp file is young; the leftover is made old, as it is an hour later.
    live = sshd_server.root / FOLDER / ".handover-0123456789abcdef.part"
    live.write_bytes(b"in progress")
    old = time.time() - 120
    os.utime(left, (old, old))
    other = tmp_path / "b.zip"
    other.write_bytes(b"next package")
    await connector(sshd_server, sshd_server.port).put(FOLDER, "b.zip", other, {})
    assert parts(sshd_server) == [live], "the stale leftover is gone, the young temp file stays"


async def test_a_killed_connection_leaves_no_part_file(
    sshd_server: SshdServer, proxy: FaultyProxy, big_file: Path
) -> None:
    proxy.cut_after = 1024 * 1024
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        await connector(sshd_server, proxy.port).put(FOLDER, "a.zip", big_file, {})
    assert time.monotonic() - started < IO_TIMEOUT + 3
    assert caught.value.retryable and not caught.value.may_be_stored
    assert "切れました" in caught.value.reason_ja
    assert parts(sshd_server) == [], "removed over a new connection"
    assert not (sshd_server.root / FOLDER / "a.zip").exists()
    # Trying again succeeds, as the delivery queue will.
    await connector(sshd_server, proxy.port).put(FOLDER, "a.zip", big_file, {})
    assert (sshd_server.root / FOLDER / "a.zip").stat().st_size == big_file.stat().st_size


def test_timeouts_are_configured_and_validated(tmp_path: Path) -> None:
    key = tmp_path / "key"
    base = {
        "host": "sftp.example.lg.jp",
        "username": "ward",
        "host_key": "ssh-ed25519 AAAA",
        "private_key": SecretRef(file=key),
        "jurisdiction": JurisdictionOptions(region="lgwan"),
    }
    defaults = SftpOptions.model_validate(base)
    assert (defaults.io_timeout, defaults.connect_timeout, defaults.keepalive_interval) == (30.0, 15.0, 15.0)
    assert defaults.keepalive_count_max == 3 and defaults.stale_part_age == 3600.0
    for bad in ({"io_timeout": 0}, {"keepalive_count_max": 0}, {"stale_part_age": 30}, {"io_timeout": 601}):
        with pytest.raises(ValidationError):
            SftpOptions.model_validate({**base, **bad})
