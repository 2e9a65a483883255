"""Connector fixtures: one configured connector per kind, and AES ZIP packages to hand them.

The servers behind them (``sshd_server``, ``box_emulator``, ``moto_s3``, ``tiny_tmpfs``) are shared fixtures in
``tests/services``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.local import LocalConnector
from connectors.media import MediaConnector
from connectors.s3 import S3Connector
from connectors.s3_objects import MIN_PART_SIZE, region_jurisdiction
from connectors.sftp import SftpConnector
from tests.factories import TOKYO, PackageFile, package_file
from tests.services.moto_s3 import MotoS3
from tests.services.sshd import SshdServer, sftp_connector_for


@pytest.fixture
def package(tmp_path: Path) -> PackageFile:
    return package_file(tmp_path / "生活保護追加給付_委託先A.zip", "氏名,住所\n区民 太郎,新宿区\n".encode())


@pytest.fixture
def other_package(tmp_path: Path) -> PackageFile:
    return package_file(tmp_path / "other.zip", b"different content\n" * 10)


@pytest.fixture
async def sftp_connector(sshd_server: SshdServer) -> AsyncIterator[SftpConnector]:
    connector = sftp_connector_for(sshd_server)
    yield connector
    await connector.close()


@pytest.fixture
def local_connector(tmp_path: Path) -> LocalConnector:
    root = tmp_path / "outbox"
    root.mkdir()
    return LocalConnector("local-test", TOKYO, root=root)


@pytest.fixture
def media_connector(tmp_path: Path) -> MediaConnector:
    staging, images = tmp_path / "media-staging", tmp_path / "media-images"
    staging.mkdir()
    images.mkdir()
    return MediaConnector("media-test", TOKYO, staging_root=staging, image_root=images)


@pytest.fixture
async def s3_connector(moto_s3: MotoS3, s3_versioned_bucket: str) -> AsyncIterator[S3Connector]:
    """On a versioned bucket, the harder case for deletion (every version and delete marker must go)."""
    connector = S3Connector(
        "s3-test",
        region_jurisdiction(moto_s3.region),
        moto_s3.endpoint(s3_versioned_bucket, server_side_encryption="AES256"),
        prefix="contracts/ward-a",
        part_size=MIN_PART_SIZE,
    )
    yield connector
    await connector.close()
