"""The example production configuration is valid, keeps its secrets outside, and names production services."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from exchange import settings as hub_settings
from exchange.settings import Settings, _secret_refs


def example(deploy_dir: Path) -> dict[str, Any]:
    with (deploy_dir / "hub.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_example_is_valid_and_its_secrets_come_from_outside(deploy_dir: Path) -> None:
    data = example(deploy_dir)
    blobs = data.pop("blobs")  # checked by the next test, against the S3 backend's own settings
    settings = Settings(**data)
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert "@" in settings.database.url and ":" not in settings.database.url.split("//")[1].split("@")[0], (
        "no password in the database URL"
    )
    assert settings.web.trusted_proxies and settings.web.metrics_allow
    refs = dict(_secret_refs(settings, ""))
    assert set(refs) == {"smtp.password", "connectors.lgwan-printer.private_key"}
    assert {blobs["access_key_id"]["env"], blobs["secret_access_key"]["env"]} == {
        "HANDOVER_S3_ACCESS_KEY_ID",
        "HANDOVER_S3_SECRET_ACCESS_KEY",
    }
    # Every variable the file names is in the environment file's example.
    env = (deploy_dir / "handover.env.example").read_text(encoding="utf-8")
    names = {ref.env for ref in refs.values() if ref.env} | {
        "HANDOVER_S3_ACCESS_KEY_ID",
        "HANDOVER_S3_SECRET_ACCESS_KEY",
    }
    for name in names:
        assert f"\n{name}=" in env, name


def test_the_blob_store_is_s3_in_japan(deploy_dir: Path) -> None:
    blobs = hub_settings.S3BlobSettings(**example(deploy_dir)["blobs"])
    assert blobs.kind == "s3" and blobs.region.startswith("ap-northeast-")
