"""SFTP connector against a real OpenSSH server: pinned host key, outages, full disk, large files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import asyncssh
import pytest

from connectors.base import ConnectorError
from connectors.sftp import SftpConnector, SftpTimeouts
from tests.factories import TOKYO, PackageFile, package_file
from tests.services.sshd import SshdServer, sftp_connector_for

FOLDER = "委託先B_介護保険料通知"


async def test_changed_host_key_is_refused_without_retry(sshd_server: SshdServer, package: PackageFile) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    connector = sftp_connector_for(sshd_server, host_key=impostor)
    with pytest.raises(ConnectorError) as caught:
        await connector.put(FOLDER, "a.zip", package.path, {})
    assert not caught.value.retryable
    assert "ホスト鍵が設定と一致しません" in caught.value.reason_ja
    assert "host key" in caught.value.reason_ja
    assert not any(sshd_server.root.rglob("*")), "nothing may be written to an unverified server"
    report = await connector.health()
    assert report.reachable and not report.authenticated


async def test_unknown_client_key_is_refused_without_retry(sshd_server: SshdServer, package: PackageFile) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    connector = sftp_connector_for(sshd_server, client_key=stranger)
    with pytest.raises(ConnectorError) as caught:
        await connector.put(FOLDER, "a.zip", package.path, {})
    assert not caught.value.retryable
    assert "認証に失敗" in caught.value.reason_ja
    assert stranger not in caught.value.reason_ja


async def test_server_down_is_retryable(sshd_server: SshdServer, package: PackageFile) -> None:
    connector = sftp_connector_for(sshd_server)
    sshd_server.stop()
    with pytest.raises(ConnectorError) as caught:
        await connector.put(FOLDER, "a.zip", package.path, {})
    assert caught.value.retryable
    assert "接続できません" in caught.value.reason_ja
    report = await connector.health()
    assert not report.reachable


async def test_few_megabytes_round_trip_with_hash(
    sftp_connector: SftpConnector, sshd_server: SshdServer, tmp_path: Path
) -> None:
    big = package_file(tmp_path / "big.zip", os.urandom(5 * 1024 * 1024 + 123))
    stored = await sftp_connector.put(FOLDER, "big.zip", big.path, {})
    assert stored.sha256 == big.sha256
    await sftp_connector.verify(stored, size=big.size, sha256=big.sha256)
    on_server = sshd_server.root / FOLDER / "big.zip"
    assert hashlib.sha256(on_server.read_bytes()).hexdigest() == big.sha256
    assert sorted(p.name for p in (sshd_server.root / FOLDER).iterdir()) == ["big.zip"]


async def test_tampered_file_fails_verification(
    sftp_connector: SftpConnector, sshd_server: SshdServer, package: PackageFile
) -> None:
    stored = await sftp_connector.put(FOLDER, "a.zip", package.path, {})
    on_server = sshd_server.root / FOLDER / "a.zip"
    data = bytearray(on_server.read_bytes())
    data[-1] ^= 0xFF
    on_server.write_bytes(bytes(data))
    with pytest.raises(ConnectorError) as caught:
        await sftp_connector.verify(stored, size=package.size, sha256=package.sha256)
    assert "内容が一致しません" in caught.value.reason_ja


async def test_full_disk_on_server_is_retryable_and_leaves_no_temp(
    sshd_server: SshdServer, tiny_tmpfs: Path, tmp_path: Path
) -> None:
    connector = sftp_connector_for(sshd_server, root=tiny_tmpfs)
    big = package_file(tmp_path / "big.zip", os.urandom(1024 * 1024))
    with pytest.raises(ConnectorError) as caught:
        await connector.put(FOLDER, "big.zip", big.path, {})
    assert caught.value.retryable
    assert "容量不足" in caught.value.reason_ja, caught.value.reason_ja
    assert list((tiny_tmpfs / FOLDER).iterdir()) == []


async def test_repr_and_errors_keep_secrets_out(sshd_server: SshdServer) -> None:
    connector = SftpConnector(
        "sftp-pw",
        TOKYO,
        host=sshd_server.host,
        port=sshd_server.port,
        username="nobody-here",
        host_key=sshd_server.host_public_key,
        password="s3cret-Passw0rd",
        timeouts=SftpTimeouts(connect=5.0),
    )
    assert "s3cret" not in repr(connector)
    report = await connector.health()
    assert not report.authenticated
    assert "s3cret" not in report.detail


def test_missing_credentials_and_bad_host_key_are_configuration_errors(sshd_server: SshdServer) -> None:
    with pytest.raises(ValueError, match="認証情報"):
        SftpConnector("x", TOKYO, host="127.0.0.1", username="u", host_key=sshd_server.host_public_key)
    with pytest.raises(ValueError, match="鍵の設定"):
        SftpConnector("x", TOKYO, host="127.0.0.1", username="u", host_key="not a key", password="p")
