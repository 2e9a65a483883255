"""Run as a child process by the contract test: put and read back a large blob under tracemalloc, print the peaks.

A process of its own, because moto serves S3 from a thread of the test process, and its allocations (it joins an
object's parts in memory) would be counted with the store's. Arguments: ``local ROOT`` or ``s3 ENDPOINT BUCKET``,
then the size in MiB. Prints one JSON line: ``{"put_peak": bytes, "read_peak": bytes, "size": bytes}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from connectors.s3_objects import MIN_PART_SIZE, S3Endpoint
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.s3 import S3BlobStore
from exchange.blobs.store import BlobStore

CHUNK = b"\x5a" * (1024 * 1024)


async def chunks(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield CHUNK


async def main(argv: list[str]) -> None:
    store: BlobStore
    if argv[0] == "local":
        store = LocalBlobStore(Path(argv[1]))
        mib = int(argv[2])
    else:
        endpoint = S3Endpoint(
            bucket=argv[2], region="ap-northeast-1", endpoint_url=argv[1], access_key_id="k", secret_access_key="s"
        )
        store = S3BlobStore(endpoint, part_size=MIN_PART_SIZE)
        mib = int(argv[3])
    await store.size("warm-up")  # the client and botocore's models are made before measuring
    tracemalloc.start()
    info = await store.put("big/blob", chunks(mib))
    _, put_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    size = 0
    async for chunk in store.read("big/blob"):
        size += len(chunk)
    _, read_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await store.close()
    assert size == info.size == mib * 1024 * 1024
    print(json.dumps({"put_peak": put_peak, "read_peak": read_peak, "size": size}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
