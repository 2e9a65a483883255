"""A real S3 API: moto in server mode (``ThreadedMotoServer``) on a free loopback port, started once per session.

``moto_s3`` is the server (its endpoint URL, credentials, and a plain boto3 client for looking behind a store's
back); ``s3_bucket`` and ``s3_versioned_bucket`` are fresh buckets for one test (the second with versioning on),
emptied and removed afterwards. Every request goes over HTTP to the server, as it would to AWS.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from connectors.s3_objects import S3Endpoint
from tests.services import free_port, skip_or_fail

REGION = "ap-northeast-1"
# moto serves through werkzeug, which logs every request at INFO: too much in a failing test's report.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@dataclass(frozen=True)
class MotoS3:
    endpoint_url: str
    region: str = REGION
    access_key_id: str = "handover-test-key"
    secret_access_key: str = "handover-test-secret"  # moto accepts any key while authentication is off

    def client(self) -> Any:
        """A plain (synchronous) boto3 client: for set-up and for inspecting what a store left in a bucket."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def endpoint(self, bucket: str, **overrides: Any) -> S3Endpoint:
        """An ``S3Endpoint`` for ``bucket`` on this server, with quick retries so fault tests stay short."""
        values: dict[str, Any] = {
            "bucket": bucket,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "max_attempts": 3,
            "connect_timeout": 5.0,
            "read_timeout": 30.0,
        }
        return S3Endpoint(**(values | overrides))

    def create_bucket(self, *, versioned: bool) -> str:
        name = f"handover-{uuid.uuid4().hex[:16]}"
        client = self.client()
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        if versioned:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def remove_bucket(self, name: str) -> None:
        """Every version, delete marker and unfinished upload, then the bucket (moto keeps them in memory)."""
        client = self.client()
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                client.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
        client.delete_bucket(Bucket=name)

    @contextmanager
    def authentication(self) -> Iterator[None]:
        """Make moto check signatures against its IAM users (none exist, so every key is wrong) for a while."""
        self._reset_auth("0")
        try:
            yield
        finally:
            self._reset_auth("inf")

    def _reset_auth(self, count: str) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/reset-auth", data=count.encode(), timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        skip_or_fail(f"moto[server] is not installed: {exc}")
        raise AssertionError("unreachable") from exc
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
        url = f"http://127.0.0.1:{port}"
        requests.get(f"{url}/moto-api/", timeout=10).raise_for_status()
    except (OSError, requests.RequestException) as exc:
        server.stop()
        skip_or_fail(f"moto S3 server did not start on 127.0.0.1:{port}: {exc}")
        raise AssertionError("unreachable") from exc
    try:
        yield MotoS3(url)
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_s3: MotoS3) -> Iterator[str]:
    name = moto_s3.create_bucket(versioned=False)
    yield name
    moto_s3.remove_bucket(name)


@pytest.fixture
def s3_versioned_bucket(moto_s3: MotoS3) -> Iterator[str]:
    name = moto_s3.create_bucket(versioned=True)
    yield name
    moto_s3.remove_bucket(name)
