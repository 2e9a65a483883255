"""The S3 blob store: every blob an object in one bucket (AWS S3 or an S3-compatible store), under a key prefix.

The S3 work itself (streaming multipart upload with abort, SHA-256 metadata, verified deletion of every version,
retries) is ``connectors.s3_objects``, shared with the S3 connector; this module maps it onto the ``BlobStore``
promises and errors. The client is made on first use, on the loop that uses the store; ``check`` (called by
``registry.open_blob_store`` when the hub starts) HEADs the bucket, so wrong credentials or a missing bucket stop
the hub at start with a clear message, not at the first put.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

from connectors.s3_objects import DEFAULT_PART_SIZE, S3Client, S3Endpoint, S3Failure, S3Objects, file_chunks
from exchange.blobs.store import CHUNK_BYTES, BlobCorrupt, BlobError, BlobInfo, BlobMissing, check_key, copy_to_file


class BlobStoreUnavailable(Exception):
    """The configured blob store cannot be used (start-up check); the message says why, in Japanese and English."""


def _blob_error(exc: S3Failure) -> NoReturn:
    if exc.kind == "missing":
        raise BlobMissing(str(exc)) from exc
    if exc.kind == "mismatch":
        raise BlobCorrupt(str(exc), retryable=exc.retryable) from exc
    raise BlobError(str(exc), retryable=exc.retryable) from exc


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except S3Failure as exc:
        _blob_error(exc)


class S3BlobStore:
    """Blobs as objects ``<prefix>/<key>`` in the endpoint's bucket.

    The aiobotocore client is made on first use, on the loop that uses the store (a store built before the loop
    starts works), and closed by ``close``; ``check`` HEADs the bucket (the registry's start-up check).
    """

    kind = "s3"

    def __init__(self, endpoint: S3Endpoint, *, prefix: str = "", part_size: int = DEFAULT_PART_SIZE) -> None:
        self.endpoint = endpoint
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self._client = S3Client(endpoint)

    async def _objects(self) -> S3Objects:
        return await self._client.get()

    async def check(self) -> None:
        """HEAD the bucket; raises BlobStoreUnavailable saying what is wrong (missing bucket, credentials)."""
        try:
            objects = await self._objects()
            await objects.check_bucket()
        except S3Failure as exc:
            bucket = self.endpoint.bucket
            reason = {
                "no_bucket": f"バケット {bucket} がありません。",
                "denied": "アクセスが拒否されました（アクセスキー・シークレットキー・バケットポリシーを確認）。",
            }.get(exc.kind, "接続できません。")
            raise BlobStoreUnavailable(
                f"保存先（S3 バケット {bucket}）を使用できません：{reason}"
                f"the blob store (S3 bucket {bucket}) cannot be used: {exc}"
            ) from exc

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _under(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> BlobInfo:
        name = self._name(key)
        objects = await self._objects()
        with _mapped():
            uploaded = await objects.put_stream(name, chunks, part_size=self.part_size)
        return BlobInfo(key, uploaded.size, uploaded.sha256)

    async def put_file(self, key: str, path: Path) -> BlobInfo:
        return await self.put(key, file_chunks(path))

    async def read(self, key: str, *, start: int = 0) -> AsyncIterator[bytes]:
        # The HTTP body arrives in pieces of whatever the socket held (often a few KiB); gathered into chunks of
        # CHUNK_BYTES, a download writes and a copy hands a thread a large block at a time, not thousands of slivers.
        name = self._name(key)
        objects = await self._objects()
        gathered = bytearray()
        with _mapped():
            async for piece in objects.read(name, start):
                gathered += piece
                if len(gathered) >= CHUNK_BYTES:
                    yield bytes(gathered)
                    gathered.clear()
        if gathered:
            yield bytes(gathered)

    async def size(self, key: str) -> int | None:
        objects = await self._objects()
        with _mapped():
            head = await objects.head(self._name(key))
        return None if head is None else head.size

    async def verify(self, key: str, sha256: str) -> int:
        await self._check_recorded(key, sha256)
        digest, size = hashlib.sha256(), 0
        async for chunk in self.read(key):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != sha256:
            raise BlobCorrupt(f"blob {key} does not have the recorded hash")
        return size

    async def _check_recorded(self, key: str, sha256: str) -> None:
        """Refuse at once an object whose stored hash is not the recorded one; the bytes are checked after."""
        objects = await self._objects()
        with _mapped():
            head = await objects.head(self._name(key))
        if head is None:
            raise BlobMissing(f"blob {key} is missing")
        if head.sha256 is not None and head.sha256 != sha256:
            raise BlobCorrupt(f"blob {key} was stored with another hash ({head.sha256}) than the recorded one")

    async def fetch_to(self, key: str, path: Path, sha256: str) -> None:
        await self._check_recorded(key, sha256)
        await copy_to_file(self.read(key), key, path, sha256)

    async def delete(self, key: str) -> None:
        objects = await self._objects()
        with _mapped():
            await objects.delete_everywhere(self._name(key))

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        under = self._under()
        objects = await self._objects()
        with _mapped():
            async for name in objects.list_keys(under + prefix):
                yield name[len(under) :]

    async def clean_incomplete(self, older_than_seconds: float) -> int:
        objects = await self._objects()
        with _mapped():
            return await objects.abort_uploads(self._under(), older_than_seconds)

    async def close(self) -> None:
        await self._client.close()
