"""A real S3 API: moto in server mode (``ThreadedMotoServer``) on a free loopback port, started once per session.

``moto_s3`` is the server (its endpoint URL, credentials, and a plain boto3 client for looking behind a store's
back); ``s3_bucket`` and ``s3_versioned_bucket`` are fresh buckets for one test (the second with versioning on),
emptied and removed afterwards. Every request goes over HTTP to the server, as it would to AWS.
``s3_fault_front`` stands in front of the server and answers chosen requests with 500/503/SlowDown, or cuts a
read's body half way, to show the retries.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web

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


class S3FaultFront:
    """An HTTP front to the moto server, on the test's loop, that answers some requests with S3's error answers
    (``fail``) or cuts a GET's body half way (``cut_reads``) before passing the rest through unchanged.

    ``fail(count, status, code, when)``: the next ``count`` requests for which ``when(method, path_qs)`` holds get
    ``status`` with an S3 error document of ``code`` (``SlowDown``, ``InternalError``, ``ServiceUnavailable``).
    """

    def __init__(self, target_url: str) -> None:
        self.target_url = target_url
        self.url = ""
        self.failed: list[str] = []
        self.cut: list[str] = []
        self._failures: list[tuple[int, str, Callable[[str, str], bool]]] = []
        self._cuts = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def fail(self, count: int, status: int, code: str, when: Callable[[str, str], bool]) -> None:
        self._failures += [(status, code, when)] * count

    def cut_reads(self, count: int) -> None:
        self._cuts += count

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        for index, (status, code, when) in enumerate(self._failures):
            if when(request.method, request.path_qs):
                del self._failures[index]
                self.failed.append(f"{request.method} {request.path_qs} -> {status} {code}")
                document = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>injected'
                return web.Response(status=status, body=(document + "</Message></Error>").encode())
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, self.target_url + request.path_qs, headers=headers, data=io.BytesIO(body)
        ) as answer:
            payload = await answer.read()
            passed = {k: v for k, v in answer.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        response = web.StreamResponse(status=answer.status, headers=passed)
        if request.method == "GET" and answer.status in (200, 206) and self._cuts and len(payload) > 1024:
            self._cuts -= 1
            self.cut.append(request.path_qs)
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            assert request.transport is not None
            request.transport.close()  # the connection dies half way through the body
            return response
        await response.prepare(request)
        if request.method != "HEAD":
            await response.write(payload)
        await response.write_eof()
        return response


@pytest.fixture
async def s3_fault_front(moto_s3: MotoS3) -> AsyncIterator[S3FaultFront]:
    front = S3FaultFront(moto_s3.endpoint_url)
    await front.start()
    yield front
    await front.close()
