"""``[blobs]`` in the settings and the store the hub opens from it: a clear start-up error for a missing bucket or
wrong credentials, C-14 for the bucket's region, secrets only by reference."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from exchange.admin import bootstrap
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.registry import open_blob_store
from exchange.blobs.s3 import BlobStoreUnavailable, S3BlobStore
from exchange.blobs.store import BlobStore
from exchange.hub import services
from exchange.settings import ConfigError, DatabaseSettings, S3BlobSettings, Settings, load_settings
from tests.services.moto_s3 import MotoS3


def s3_settings(
    tmp_path: Path, moto: MotoS3, bucket: str, monkeypatch: pytest.MonkeyPatch, db_url: str | None = None
) -> Settings:
    monkeypatch.setenv("TEST_S3_KEY_ID", moto.access_key_id)
    monkeypatch.setenv("TEST_S3_SECRET", moto.secret_access_key)
    blobs: dict[str, Any] = {
        "kind": "s3",
        "bucket": bucket,
        "prefix": "hub-a/",
        "region": "ap-northeast-1",
        "endpoint_url": moto.endpoint_url,
        "access_key_id": {"env": "TEST_S3_KEY_ID"},
        "secret_access_key": {"env": "TEST_S3_SECRET"},
        "server_side_encryption": "AES256",
        "part_size": 5 * 1024 * 1024,
        "max_attempts": 2,
    }
    database = DatabaseSettings(url=db_url) if db_url else DatabaseSettings()
    return Settings(data_dir=tmp_path / "var", blobs=blobs, database=database)


async def test_the_configured_s3_store_opens_and_encrypts(
    tmp_path: Path, moto_s3: MotoS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = s3_settings(tmp_path, moto_s3, s3_bucket, monkeypatch)
    store: BlobStore = await open_blob_store(settings)  # typed: the S3 backend keeps the protocol
    try:
        assert isinstance(store, S3BlobStore)
        info = await store.put("reports/r-1.csv", _chunks(b"a,b\n"))
        head = await asyncio.to_thread(moto_s3.client().head_object, Bucket=s3_bucket, Key="hub-a/reports/r-1.csv")
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"]["sha256"] == info.sha256
        assert "handover-test-secret" not in repr(store.endpoint)
    finally:
        await store.close()


async def test_the_local_store_is_the_default(tmp_path: Path) -> None:
    store: BlobStore = await open_blob_store(Settings(data_dir=tmp_path / "var"))
    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "var" / "blobs").resolve()
    await store.close()


async def test_a_missing_bucket_stops_the_start_with_a_clear_error(
    tmp_path: Path, moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = s3_settings(tmp_path, moto_s3, "handover-no-such-bucket", monkeypatch)
    with pytest.raises(BlobStoreUnavailable) as caught:
        await open_blob_store(settings)
    message = str(caught.value)
    assert "バケット handover-no-such-bucket がありません" in message
    assert "does not exist" in message


async def test_the_hub_does_not_start_without_its_bucket(
    tmp_path: Path, db_url: str, moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``handover serve`` prints a HubUnavailable as one paragraph for the operator, without a traceback."""
    settings = s3_settings(tmp_path, moto_s3, "handover-no-such-bucket", monkeypatch, db_url)
    await bootstrap.initialise(settings)
    with pytest.raises(bootstrap.HubUnavailable, match="保存先（S3 バケット handover-no-such-bucket）を使用できません"):
        async with services(settings):
            pass


async def test_wrong_credentials_stop_the_start_with_a_clear_error(
    tmp_path: Path, moto_s3: MotoS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = s3_settings(tmp_path, moto_s3, s3_bucket, monkeypatch)
    with moto_s3.authentication(), pytest.raises(BlobStoreUnavailable) as caught:
        await open_blob_store(settings)
    message = str(caught.value)
    assert "アクセスが拒否されました" in message
    assert "access denied" in message
    assert moto_s3.secret_access_key not in message


BLOBS_TOML = (
    "[blobs]\n"
    'kind = "s3"\n'
    'bucket = "handover-blobs"\n'
    'access_key_id = { env = "TEST_S3_KEY_ID" }\n'
    'secret_access_key = { env = "TEST_S3_SECRET" }\n'
)


def test_a_bucket_outside_japan_is_refused_with_the_key_path(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(BLOBS_TOML + 'region = "us-east-1"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, check_secrets=False)
    assert caught.value.problems == [
        "blobs.region: リージョン「us-east-1」は国外のため使用できません（C-14）。region 'us-east-1' is outside Japan;"
        " use ap-northeast-1 (Tokyo) or ap-northeast-3 (Osaka)"
    ]


def test_a_kms_key_needs_kms_encryption(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(BLOBS_TOML + 'region = "ap-northeast-1"\nkms_key_id = "alias/handover"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, check_secrets=False)
    assert caught.value.problems == ['blobs: kms_key_id goes with server_side_encryption = "aws:kms"']


def test_secrets_are_references_and_are_checked_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_S3_SECRET", raising=False)
    monkeypatch.setenv("TEST_S3_KEY_ID", "AKIAEXAMPLE")
    config = tmp_path / "hub.toml"
    config.write_text(BLOBS_TOML + 'region = "ap-northeast-3"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == ["blobs.secret_access_key: environment variable TEST_S3_SECRET is not set"]
    with pytest.raises(ValueError, match="secret_access_key"):
        S3BlobSettings.model_validate(
            {"kind": "s3", "bucket": "b-1", "region": "ap-northeast-1", "access_key_id": {"env": "X"}}
        )
    with pytest.raises(ValueError):
        S3BlobSettings.model_validate(
            {
                "kind": "s3",
                "bucket": "b-1",
                "region": "ap-northeast-1",
                "access_key_id": "AKIAPLAIN",  # a plain value is refused: secrets are references only
                "secret_access_key": {"env": "X"},
            }
        )


async def _chunks(data: bytes) -> Any:
    yield data
