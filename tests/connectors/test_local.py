"""Local outbox specifics: full disk, temp files, permissions, health."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

import connectors.local
from connectors.base import ConnectorError, Grantee
from connectors.local import TEMP_PREFIX, WITHDRAWN, LocalConnector
from tests.factories import TOKYO, PackageFile, package_file

FOLDER = "委託先A"


async def test_real_full_disk_is_retryable_and_removes_temp(tiny_tmpfs: Path, tmp_path: Path) -> None:
    connector = LocalConnector("tiny", TOKYO, root=tiny_tmpfs)
    big = package_file(tmp_path / "big.zip", os.urandom(1024 * 1024))
    with pytest.raises(ConnectorError) as caught:
        await connector.put(FOLDER, "big.zip", big.path, {})
    assert caught.value.retryable
    assert "空きがありません" in caught.value.reason_ja
    assert list((tiny_tmpfs / FOLDER).iterdir()) == []


async def test_injected_full_disk_removes_temp(
    local_connector: LocalConnector, package: PackageFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs where no tmpfs can be mounted: the disk fills after part of the package was written."""

    def fill_disk(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
        target.write(source.read(10))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(connectors.local, "_copy_with_hash", fill_disk)
    with pytest.raises(ConnectorError) as caught:
        await local_connector.put(FOLDER, "a.zip", package.path, {})
    assert caught.value.retryable
    assert list((local_connector.root / FOLDER).iterdir()) == []


async def test_file_is_group_readable_and_no_temp_left(local_connector: LocalConnector, package: PackageFile) -> None:
    stored = await local_connector.put(FOLDER, "a.zip", package.path, {})
    path = Path(stored.location)
    assert path == local_connector.root / FOLDER / "a.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes() == package.path.read_bytes()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


async def test_missing_source_is_not_retryable(local_connector: LocalConnector, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as caught:
        await local_connector.put(FOLDER, "a.zip", tmp_path / "gone.zip", {})
    assert not caught.value.retryable


async def test_file_in_place_of_folder_is_not_retryable(local_connector: LocalConnector, package: PackageFile) -> None:
    (local_connector.root / FOLDER).write_text("a file where the folder should be")
    with pytest.raises(ConnectorError) as caught:
        await local_connector.put(FOLDER, "a.zip", package.path, {})
    assert not caught.value.retryable
    assert "フォルダ構成" in caught.value.reason_ja


async def test_health_reports_missing_root(tmp_path: Path) -> None:
    report = await LocalConnector("gone", TOKYO, root=tmp_path / "nowhere").health()
    assert not report.reachable
    assert "ありません" in report.detail


async def test_grant_validates_arguments(local_connector: LocalConnector) -> None:
    with pytest.raises(ConnectorError):
        await local_connector.grant(FOLDER, [Grantee("p-1", " ")], "viewer")
    with pytest.raises(ConnectorError):
        await local_connector.grant("../etc", [Grantee("p-1", "a")], "viewer")


async def test_withdraw_moves_the_file_out_of_the_served_folder(
    local_connector: LocalConnector, package: PackageFile
) -> None:
    """An incident takes a package out of reach: owner-only folder and file, kept as evidence; asked again, the
    answer is the same; a name never delivered has nothing to withdraw."""
    await local_connector.put(FOLDER, "a.zip", package.path, {})
    moved_to = await local_connector.withdraw(FOLDER, "a.zip")
    assert moved_to == f"{WITHDRAWN}/{FOLDER}"
    assert not (local_connector.root / FOLDER / "a.zip").exists()
    target = local_connector.path_of(moved_to, "a.zip")
    assert target.read_bytes() == package.path.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((local_connector.root / WITHDRAWN).stat().st_mode) == 0o700
    assert await local_connector.withdraw(FOLDER, "a.zip") == moved_to
    assert await local_connector.withdraw(FOLDER, "never.zip") is None
