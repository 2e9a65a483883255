"""The blob store the settings name (``[blobs]``), built once at start.

``build_blob_store`` makes either kind without touching the network (an S3 store creates its client on the first
use, on the loop that uses it); ``open_blob_store`` is what the hub calls at start: it also checks that the store
can be used (for S3: a HEAD of the bucket), so wrong credentials or a missing bucket stop the start with a clear
message. Both return ``BlobStore``: that is where mypy checks that each backend keeps the protocol.
"""

from __future__ import annotations

import asyncio

from connectors.s3_objects import S3Endpoint
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.s3 import S3BlobStore
from exchange.blobs.store import BlobStore
from exchange.settings import S3BlobSettings, Settings


def build_blob_store(settings: Settings) -> BlobStore:
    """The configured backend; the local one keeps its files under ``blobs.root`` or ``DATA_DIR/blobs``.

    Blocking (it makes the local folder, reads the S3 secrets): call it before the loop starts or in a thread.
    """
    blobs = settings.blobs
    if isinstance(blobs, S3BlobSettings):
        return S3BlobStore(s3_endpoint(blobs), prefix=blobs.prefix, part_size=blobs.part_size)
    return LocalBlobStore(blobs.root or settings.data_dir / "blobs")


async def open_blob_store(settings: Settings) -> BlobStore:
    """The configured backend, checked; raises BlobStoreUnavailable when it cannot be used."""
    store = await asyncio.to_thread(build_blob_store, settings)
    if isinstance(store, S3BlobStore):
        try:
            await store.check()
        except BaseException:
            await store.close()
            raise
    return store


def s3_endpoint(blobs: S3BlobSettings) -> S3Endpoint:
    """The bucket and credentials of ``[blobs]`` (the secrets read now)."""
    return S3Endpoint(
        bucket=blobs.bucket,
        region=blobs.region,
        endpoint_url=blobs.endpoint_url,
        access_key_id=blobs.access_key_id.read().get_secret_value(),
        secret_access_key=blobs.secret_access_key.read().get_secret_value(),
        server_side_encryption=blobs.server_side_encryption,
        kms_key_id=blobs.kms_key_id,
        max_attempts=blobs.max_attempts,
        retry_mode=blobs.retry_mode,
    )
