"""The S3 store under faults, through a front to moto that answers 500/503/SlowDown or cuts a read half way:
botocore's back-off retries them, a broken read resumes, and what outlasts the retries is a retryable BlobError."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from connectors.s3_objects import MIN_PART_SIZE
from exchange.blobs.s3 import S3BlobStore
from exchange.blobs.store import BlobError
from tests.services.moto_s3 import MotoS3, S3FaultFront

MiB = 1024 * 1024
DATA = os.urandom(11 * MiB)


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), MiB):
        yield data[start : start + MiB]


def uploads_part(method: str, path_qs: str) -> bool:
    return method == "PUT" and "partNumber=" in path_qs


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable")])
async def test_throttling_and_server_errors_are_retried_with_back_off(
    moto_s3: MotoS3, s3_bucket: str, s3_fault_front: S3FaultFront, status: int, code: str
) -> None:
    s3_fault_front.fail(2, status, code, uploads_part)
    store = S3BlobStore(moto_s3.endpoint(s3_bucket, endpoint_url=s3_fault_front.url), part_size=MIN_PART_SIZE)
    try:
        info = await store.put("packages/p-1.zip", chunks(DATA))
        assert len(s3_fault_front.failed) == 2, s3_fault_front.failed
        assert info.sha256 == hashlib.sha256(DATA).hexdigest()
        assert await store.verify("packages/p-1.zip", info.sha256) == len(DATA)
    finally:
        await store.close()


async def test_errors_that_outlast_the_retries_are_retryable_and_leave_nothing(
    moto_s3: MotoS3, s3_bucket: str, s3_fault_front: S3FaultFront
) -> None:
    s3_fault_front.fail(100, 503, "SlowDown", uploads_part)
    store = S3BlobStore(moto_s3.endpoint(s3_bucket, endpoint_url=s3_fault_front.url), part_size=MIN_PART_SIZE)
    try:
        with pytest.raises(BlobError) as caught:
            await store.put("packages/p-2.zip", chunks(DATA))
        assert caught.value.retryable
        assert "SlowDown" in str(caught.value) and "kept failing after 3 attempts" in str(caught.value)
        assert len(s3_fault_front.failed) == 3, "max_attempts in all, then no more"
        assert await store.size("packages/p-2.zip") is None
        uploads = await asyncio.to_thread(moto_s3.client().list_multipart_uploads, Bucket=s3_bucket)
        assert uploads.get("Uploads", []) == [], "the multipart upload was aborted"
    finally:
        await store.close()


async def test_a_read_cut_half_way_resumes_where_it_stopped(
    moto_s3: MotoS3, s3_bucket: str, s3_fault_front: S3FaultFront
) -> None:
    store = S3BlobStore(moto_s3.endpoint(s3_bucket, endpoint_url=s3_fault_front.url), part_size=MIN_PART_SIZE)
    try:
        await store.put("media/disc-1.iso", chunks(DATA))
        s3_fault_front.cut_reads(2)
        read = b"".join([chunk async for chunk in store.read("media/disc-1.iso", start=123)])
        assert read == DATA[123:]
        assert len(s3_fault_front.cut) == 2
    finally:
        await store.close()
