"""The S3 connector against moto in server mode: jurisdiction from the region (C-14), configuration through the
registry with secret references, verified multipart upload with SSE, deletion of every version, clear errors."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.base import ConnectorError, Jurisdiction
from connectors.registry import AnyConnectorOptions, build_connector
from connectors.s3 import S3Connector, S3Options
from connectors.s3_objects import MIN_PART_SIZE, S3Failure, S3Objects
from exchange.settings import ConfigError, load_settings
from tests.factories import package_file
from tests.services.moto_s3 import MotoS3

OPTIONS = TypeAdapter(dict[str, AnyConnectorOptions])
FOLDER = "委託先A_生活保護追加給付"


def raw_options(moto: MotoS3, bucket: str, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "s3",
        "bucket": bucket,
        "prefix": "deliveries/",
        "region": "ap-northeast-1",
        "endpoint_url": moto.endpoint_url,
        "access_key_id": {"env": "TEST_S3_KEY_ID"},
        "secret_access_key": {"env": "TEST_S3_SECRET"},
        "server_side_encryption": "AES256",
        "part_size": MIN_PART_SIZE,
        "max_attempts": 2,
    } | overrides


@pytest.fixture
def credentials(moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_S3_KEY_ID", moto_s3.access_key_id)
    monkeypatch.setenv("TEST_S3_SECRET", moto_s3.secret_access_key)


def built(moto: MotoS3, bucket: str, **overrides: Any) -> S3Connector:
    options = OPTIONS.validate_python({"s3-ward": raw_options(moto, bucket, **overrides)})["s3-ward"]
    connector = build_connector("s3-ward", options)
    assert isinstance(connector, S3Connector)
    return connector


@pytest.mark.parametrize(("region", "city"), [("ap-northeast-1", "tokyo"), ("ap-northeast-3", "osaka")])
def test_jurisdiction_follows_the_region(moto_s3: MotoS3, credentials: None, region: str, city: str) -> None:
    connector = built(moto_s3, "handover-any", region=region)
    assert connector.jurisdiction == Jurisdiction("jp", city)
    assert "handover-test-secret" not in repr(connector) + repr(connector.endpoint)


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-1", "eu-west-1", ""])
def test_a_region_outside_japan_is_refused_at_configuration(tmp_path: Path, region: str) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        "[connectors.ward-bucket]\n"
        'kind = "s3"\n'
        'bucket = "handover-deliveries"\n'
        f'region = "{region}"\n'
        'access_key_id = { env = "TEST_S3_KEY_ID" }\n'
        'secret_access_key = { env = "TEST_S3_SECRET" }\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, check_secrets=False)
    assert caught.value.problems == [
        f"connectors.ward-bucket: リージョン「{region}」は国外のため使用できません（C-14）。region {region!r} is"
        " outside Japan; use ap-northeast-1 (Tokyo) or ap-northeast-3 (Osaka)"
    ]


def test_jurisdiction_is_not_written_by_hand() -> None:
    with pytest.raises(ValidationError, match="follows from its region"):
        S3Options.model_validate(
            {
                "kind": "s3",
                "bucket": "handover-deliveries",
                "region": "ap-northeast-1",
                "jurisdiction": {"country": "jp", "region": "tokyo"},
                "access_key_id": {"env": "A"},
                "secret_access_key": {"env": "B"},
            }
        )


async def test_a_multipart_delivery_is_verified_encrypted_and_deleted_with_every_version(
    moto_s3: MotoS3, s3_versioned_bucket: str, credentials: None, tmp_path: Path
) -> None:
    package = await asyncio.to_thread(package_file, tmp_path / "big.zip", os.urandom(11 * 1024 * 1024))
    connector = await asyncio.to_thread(built, moto_s3, s3_versioned_bucket)
    client = moto_s3.client()
    key = f"deliveries/{FOLDER}/big.zip"
    try:
        stored = await connector.put(FOLDER, "big.zip", package.path, {"program": "生活保護追加給付"})
        assert stored.location == f"s3://{s3_versioned_bucket}/{key}"
        assert (stored.size, stored.sha256) == (package.size, package.sha256)
        await connector.verify(stored, size=package.size, sha256=package.sha256)
        head = await asyncio.to_thread(client.head_object, Bucket=s3_versioned_bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"] == {"sha256": package.sha256}
        versions = await asyncio.to_thread(client.list_object_versions, Bucket=s3_versioned_bucket, Prefix=key)
        assert len(versions["Versions"]) == 1, "the hash was known before the upload: no copy, one version"
        # Someone deletes it without a version id: a delete marker hides the version, which is still there.
        await asyncio.to_thread(client.delete_object, Bucket=s3_versioned_bucket, Key=key)
        assert await connector.locate(FOLDER, "big.zip") is None
        assert await connector.exists(stored), "an older version can still be fetched"
        await connector.delete(stored)
        assert not await connector.exists(stored)
        left = await asyncio.to_thread(client.list_object_versions, Bucket=s3_versioned_bucket, Prefix=key)
        assert left.get("Versions", []) == [] and left.get("DeleteMarkers", []) == []
    finally:
        await connector.close()


async def test_a_source_that_changes_during_the_upload_is_refused_and_aborted(moto_s3: MotoS3, s3_bucket: str) -> None:
    """The shared upload (``S3Objects.put_stream``) with the hash known beforehand, as the connector calls it."""
    data = os.urandom(7 * 1024 * 1024)

    async def changed() -> Any:
        yield data[: 6 * 1024 * 1024]  # past one part: a multipart upload is under way
        yield b"not what was hashed"

    objects = await S3Objects.open(moto_s3.endpoint(s3_bucket))
    try:
        with pytest.raises(S3Failure, match="changed while it was read") as caught:
            await objects.put_stream("x/big.zip", changed(), part_size=MIN_PART_SIZE, expected_sha256="0" * 64)
        assert caught.value.kind == "mismatch"
        uploads = await asyncio.to_thread(moto_s3.client().list_multipart_uploads, Bucket=s3_bucket)
        assert uploads.get("Uploads", []) == []
        assert await objects.head("x/big.zip") is None
    finally:
        await objects.close()


async def test_health_and_errors_say_what_is_wrong(moto_s3: MotoS3, s3_bucket: str, credentials: None) -> None:
    missing = await asyncio.to_thread(built, moto_s3, "handover-no-such-bucket")
    report = await missing.health()
    assert report.reachable and not report.authenticated
    assert "S3 バケットがありません" in report.detail and "handover-no-such-bucket" in report.detail
    await missing.close()
    connector = await asyncio.to_thread(built, moto_s3, s3_bucket)
    try:
        assert (await connector.health()).authenticated
        with moto_s3.authentication():
            denied = await connector.health()
        assert denied.reachable and not denied.authenticated
        assert "アクセスが拒否されました" in denied.detail
        assert moto_s3.secret_access_key not in denied.detail
    finally:
        await connector.close()
    unreachable = await asyncio.to_thread(built, moto_s3, s3_bucket, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(ConnectorError) as caught:
        await unreachable.locate(FOLDER, "a.zip")
    assert caught.value.retryable and "一時的に応答しません" in caught.value.reason_ja
    await unreachable.close()
