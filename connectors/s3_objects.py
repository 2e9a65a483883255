"""S3 objects at a low level, shared by the S3 connector and the hub's S3 blob store: one implementation of each
step that must be right (opening the client, streaming multipart upload, verified deletion of every version).

One ``S3Objects`` is one bucket through one aiobotocore client, created on the running event loop and closed
with ``close``. botocore loads its JSON models and reads its configuration files synchronously; ``open`` loads
them on a worker thread first, so that making the client on the loop finds them cached and never waits on disk.

Uploads stream: at most one part (``part_size``, at least S3's 5 MiB minimum) is held in memory. A body shorter
than one part goes up in one PutObject; a longer one as a multipart upload, aborted when the upload fails or is
cancelled, so nothing half-written ever becomes visible. Every object carries the SHA-256 of its bytes as user
metadata (``x-amz-meta-sha256``). When the caller knows the hash before the upload (a local file), it is sent
with the upload; otherwise (a stream read once) a multipart object is copied onto itself, server-side, part by
part, with the hash it turned out to have, and the intermediate version is removed. Each put ends with a HEAD that
checks size and hash.

Transient failures (HTTP 500/503, SlowDown and other throttling, dropped connections, timeouts) are retried by
botocore with exponential back-off and jitter (retry mode ``standard`` or ``adaptive``); a read that breaks off
in the middle of an object resumes from the byte it reached (with ``If-Match`` on the ETag, so a changed object is
never spliced). What still fails becomes an ``S3Failure`` saying what happened and whether trying later may help.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError

from connectors.base import Jurisdiction
from ledger.jurisdiction import DOMESTIC

log = logging.getLogger(__name__)

MiB: Final = 1024 * 1024
MIN_PART_SIZE: Final = 5 * MiB
DEFAULT_PART_SIZE: Final = 8 * MiB
READ_CHUNK: Final = MiB
MAX_PARTS: Final = 10_000  # S3's limit: part_size x 10,000 is the largest object a put can store
SHA256_METADATA: Final = "sha256"
ServerSideEncryption = Literal["AES256", "aws:kms"]
RetryMode = Literal["standard", "adaptive"]
FailureKind = Literal["missing", "no_bucket", "denied", "transient", "refused", "mismatch"]

# The AWS regions in Japan (C-14): a bucket anywhere else is refused when the configuration is read.
JAPANESE_REGIONS: Final = {"ap-northeast-1": "tokyo", "ap-northeast-3": "osaka"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_TRANSIENT = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}


class S3Failure(Exception):
    """An S3 request failed after botocore's retries. ``kind`` says what happened, ``retryable`` whether trying
    again later may help, ``may_be_stored`` whether an upload may have landed although no answer said so."""

    def __init__(self, message: str, *, kind: FailureKind, retryable: bool, may_be_stored: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.may_be_stored = may_be_stored


@dataclass(frozen=True)
class S3Endpoint:
    """Where the bucket is and how to reach it. The secret key is never part of the repr."""

    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint_url: str | None = None
    server_side_encryption: ServerSideEncryption | None = None
    kms_key_id: str | None = None
    max_attempts: int = 5
    retry_mode: RetryMode = "standard"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


@dataclass(frozen=True)
class Head:
    """What a HEAD tells of an object: size, the SHA-256 it was stored with (None: put by someone else), version."""

    size: int
    sha256: str | None
    version_id: str | None
    etag: str


@dataclass(frozen=True)
class Uploaded:
    size: int
    sha256: str
    version_id: str | None


def region_jurisdiction(region: str) -> Jurisdiction:
    """Where a bucket in ``region`` keeps data; raises ValueError for a region outside Japan (C-14)."""
    city = JAPANESE_REGIONS.get(region)
    if city is None:
        raise ValueError(
            f"リージョン「{region}」は国外のため使用できません（C-14）。region {region!r} is outside Japan; use "
            "ap-northeast-1 (Tokyo) or ap-northeast-3 (Osaka)"
        )
    return Jurisdiction(DOMESTIC, city)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _version(response: Mapping[str, Any]) -> str | None:
    version = response.get("VersionId")
    return None if version in (None, "null") else str(version)


class S3Objects:
    """One bucket through one aiobotocore client; make it with ``open`` on the loop that will use it."""

    def __init__(self, endpoint: S3Endpoint, client: Any, stack: AsyncExitStack) -> None:
        self.endpoint = endpoint
        self.bucket = endpoint.bucket
        self._client = client
        self._stack = stack

    @classmethod
    async def open(cls, endpoint: S3Endpoint) -> S3Objects:
        """A client for ``endpoint`` (no request is made: ``check_bucket`` is the start-up check)."""
        session = AioSession()
        await asyncio.to_thread(_warm_up, session)
        config = AioConfig(
            retries={"total_max_attempts": endpoint.max_attempts, "mode": endpoint.retry_mode},
            connect_timeout=endpoint.connect_timeout,
            read_timeout=endpoint.read_timeout,
            # S3-compatible endpoints (and test servers) rarely resolve virtual-host bucket names.
            s3={"addressing_style": "path"} if endpoint.endpoint_url else {},
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            session.create_client(
                "s3",
                region_name=endpoint.region,
                endpoint_url=endpoint.endpoint_url,
                aws_access_key_id=endpoint.access_key_id,
                aws_secret_access_key=endpoint.secret_access_key,
                config=config,
            )
        )
        return cls(endpoint, client, stack)

    async def close(self) -> None:
        await self._stack.aclose()

    def _where(self, key: str | None = None) -> str:
        return f"s3://{self.bucket}/{key}" if key is not None else f"s3://{self.bucket}"

    @contextmanager
    def _translated(self, action: str, key: str | None = None) -> Iterator[None]:
        """Turn what botocore and aiohttp raise into an S3Failure that names the action and the object."""
        where = self._where(key)
        try:
            yield
        except ClientError as exc:
            code, status = _code(exc), _status(exc)
            detail = f"{action} {where}: {code or status} ({exc})"
            if code == "NoSuchBucket" or (key is None and code in _MISSING):
                raise S3Failure(
                    f"bucket {self.bucket} does not exist at this endpoint; {detail}", kind="no_bucket", retryable=False
                ) from exc
            if code in _MISSING:
                raise S3Failure(f"no object; {detail}", kind="missing", retryable=False) from exc
            if code in _DENIED:
                raise S3Failure(
                    f"access denied (check access_key_id, secret_access_key and the bucket policy); {detail}",
                    kind="denied",
                    retryable=False,
                ) from exc
            if status >= 500 or code in _TRANSIENT:
                raise S3Failure(
                    f"the endpoint kept failing after {self.endpoint.max_attempts} attempts; {detail}",
                    kind="transient",
                    retryable=True,
                ) from exc
            raise S3Failure(f"refused; {detail}", kind="refused", retryable=False) from exc
        except (BotoCoreError, aiohttp.ClientError, TimeoutError) as exc:
            # BotoCoreError here is a connection, timeout or parameter problem; only the last is permanent.
            retryable = type(exc).__name__ not in {"ParamValidationError", "NoCredentialsError"}
            raise S3Failure(
                f"{action} {where}: {type(exc).__name__}: {exc}",
                kind="transient" if retryable else "refused",
                retryable=retryable,
            ) from exc

    def _encryption(self) -> dict[str, str]:
        extra: dict[str, str] = {}
        if self.endpoint.server_side_encryption is not None:
            extra["ServerSideEncryption"] = self.endpoint.server_side_encryption
            if self.endpoint.server_side_encryption == "aws:kms" and self.endpoint.kms_key_id:
                extra["SSEKMSKeyId"] = self.endpoint.kms_key_id
        return extra

    async def check_bucket(self) -> None:
        """HEAD the bucket: raises S3Failure (``no_bucket``, ``denied``, ``transient``) unless it is usable."""
        with self._translated("check bucket"):
            await self._client.head_bucket(Bucket=self.bucket)

    async def head(self, key: str, version_id: str | None = None) -> Head | None:
        """The object's size, stored hash and version, or None when there is none."""
        extra = {"VersionId": version_id} if version_id else {}
        try:
            with self._translated("look up", key):
                answer = await self._client.head_object(Bucket=self.bucket, Key=key, **extra)
        except S3Failure as exc:
            if exc.kind == "missing":
                return None
            raise
        return Head(
            size=int(answer["ContentLength"]),
            sha256=answer.get("Metadata", {}).get(SHA256_METADATA),
            version_id=_version(answer),
            etag=str(answer["ETag"]),
        )

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        part_size: int = DEFAULT_PART_SIZE,
        expected_sha256: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Uploaded:
        """Upload the chunks under ``key`` and check the result (size and hash by HEAD).

        With ``expected_sha256`` the hash is sent with the upload and the body must have it (else S3Failure
        ``mismatch`` and nothing stays); without it, a multipart object gets its hash by a server-side copy.
        """
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []  # chunks not yet sent, less than one part in all
        pending_size = 0
        upload = _Multipart(self, key)
        base_metadata = dict(metadata or {})
        if expected_sha256 is not None:
            base_metadata[SHA256_METADATA] = expected_sha256
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size < part_size:
                    continue
                if upload.upload_id is None:
                    await upload.start(base_metadata)
                joined = b"".join(pending)
                pending.clear()
                for start in range(0, len(joined) - part_size + 1, part_size):
                    await upload.add(joined[start : start + part_size])
                rest = joined[len(joined) - len(joined) % part_size :]
                pending, pending_size = ([rest] if rest else []), len(rest)
                del joined
            sha256 = digest.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise S3Failure(
                    f"upload {self._where(key)}: the source changed while it was read (sha256 {sha256}, "
                    f"expected {expected_sha256})",
                    kind="mismatch",
                    retryable=True,
                )
            if upload.upload_id is None:
                with self._translated("upload", key):
                    answer = await self._client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=b"".join(pending),
                        Metadata={**base_metadata, SHA256_METADATA: sha256},
                        **self._encryption(),
                    )
                version = _version(answer)
            else:
                if pending:
                    await upload.add(b"".join(pending))
                pending.clear()
                version = await upload.complete()
                if expected_sha256 is None:
                    version = await self._attach_sha256(key, version, size, sha256, base_metadata, part_size)
        except BaseException:
            if upload.upload_id is not None and not upload.completed:
                await asyncio.shield(upload.abort())
            raise
        await self._check_upload(key, version, size, sha256)
        return Uploaded(size, sha256, version)

    async def _attach_sha256(
        self, key: str, version: str | None, size: int, sha256: str, metadata: Mapping[str, str], part_size: int
    ) -> str | None:
        """Copy the finished multipart object onto itself with its hash as metadata (S3 fixes an object's metadata
        when the upload starts, before the hash of a stream is known). Part by part, so there is no size limit."""
        try:
            head = await self.head(key, version)
            if head is None:
                raise S3Failure(f"upload {self._where(key)}: gone once completed", kind="mismatch", retryable=True)
            copy = _Multipart(self, key)
            source: dict[str, str] = {"Bucket": self.bucket, "Key": key}
            if version is not None:
                source["VersionId"] = version
            await copy.start({**metadata, SHA256_METADATA: sha256})
            try:
                for start in range(0, size, part_size):
                    await copy.add_copy(source, head.etag, start, min(start + part_size, size) - 1)
                new_version = await copy.complete()
            except BaseException:
                if not copy.completed:
                    await asyncio.shield(copy.abort())
                raise
        except BaseException:
            # The object is whole but has no hash: take it away, so a failed put leaves nothing visible.
            await asyncio.shield(self._discard(key, version))
            raise
        if version is not None:
            with self._translated("remove the intermediate version of", key):
                await self._client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        return new_version

    async def _discard(self, key: str, version: str | None) -> None:
        try:
            with self._translated("remove a failed upload", key):
                extra = {"VersionId": version} if version else {}
                await self._client.delete_object(Bucket=self.bucket, Key=key, **extra)
        except S3Failure:
            log.warning("could not remove the failed upload %s (version %s)", self._where(key), version, exc_info=True)

    async def _check_upload(self, key: str, version: str | None, size: int, sha256: str) -> None:
        head = await self.head(key, version)
        if head is None or head.size != size or head.sha256 != sha256:
            found = "nothing" if head is None else f"size {head.size}, sha256 {head.sha256}"
            raise S3Failure(
                f"upload {self._where(key)}: expected size {size}, sha256 {sha256}; found {found}",
                kind="mismatch",
                retryable=True,
                may_be_stored=head is not None,
            )

    async def read(self, key: str, start: int = 0) -> AsyncIterator[bytes]:
        """The object's bytes from ``start`` on; a broken-off body resumes where it stopped (same ETag only)."""
        position = start
        etag: str | None = None
        failures = 0
        while True:
            extra: dict[str, str] = {}
            if position:
                extra["Range"] = f"bytes={position}-"
            if etag is not None:
                extra["IfMatch"] = etag
            try:
                with self._translated("read", key):
                    answer = await self._client.get_object(Bucket=self.bucket, Key=key, **extra)
            except S3Failure as exc:
                if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == "InvalidRange":
                    return  # ``start`` is at or past the end: nothing to read
                if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == "PreconditionFailed":
                    raise S3Failure(
                        f"read {self._where(key)}: the object changed while it was read",
                        kind="transient",
                        retryable=True,
                    ) from exc
                raise
            etag = str(answer["ETag"])
            body = answer["Body"]
            try:
                async with body:
                    async for chunk in body.iter_chunks(READ_CHUNK):
                        position += len(chunk)
                        yield chunk
                return
            except (BotoCoreError, aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                if failures >= self.endpoint.max_attempts:
                    raise S3Failure(
                        f"read {self._where(key)}: broken off {failures} times, last at byte {position}: {exc}",
                        kind="transient",
                        retryable=True,
                    ) from exc
                log.info("read of %s broke off at byte %d (%s); resuming", self._where(key), position, exc)

    async def versions(self, key: str) -> list[str]:
        """Every version id and delete marker of exactly ``key`` (``null`` on an unversioned bucket)."""
        found: list[str] = []
        markers: dict[str, str] = {}
        while True:
            with self._translated("list the versions of", key):
                answer = await self._client.list_object_versions(Bucket=self.bucket, Prefix=key, **markers)
            for entry in [*answer.get("Versions", []), *answer.get("DeleteMarkers", [])]:
                if entry["Key"] == key:
                    found.append(str(entry["VersionId"]))
            if not answer.get("IsTruncated"):
                return found
            markers = {"KeyMarker": answer["NextKeyMarker"], "VersionIdMarker": answer["NextVersionIdMarker"]}

    async def delete_everywhere(self, key: str) -> None:
        """Delete every version and delete marker of ``key``, then check that none is left and HEAD finds nothing."""
        for version in await self.versions(key):
            with self._translated("delete", key):
                await self._client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        with self._translated("delete", key):
            # Also on a bucket that does not list versions: the plain delete of a missing key is a no-op.
            answer = await self._client.delete_object(Bucket=self.bucket, Key=key)
        marker = _version(answer)
        if marker is not None:  # a versioned bucket answered with a new delete marker: remove it too
            with self._translated("delete", key):
                await self._client.delete_object(Bucket=self.bucket, Key=key, VersionId=marker)
        left = await self.versions(key)
        if left or await self.head(key) is not None:
            raise S3Failure(
                f"delete {self._where(key)}: still there after deletion ({len(left)} versions left)",
                kind="mismatch",
                retryable=True,
            )

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        token: dict[str, str] = {}
        while True:
            with self._translated("list", prefix):
                answer = await self._client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, **token)
            for entry in answer.get("Contents", []):
                yield str(entry["Key"])
            if not answer.get("IsTruncated"):
                return
            token = {"ContinuationToken": answer["NextContinuationToken"]}

    async def abort_uploads(self, prefix: str, older_than_seconds: float) -> int:
        """Abort the multipart uploads under ``prefix`` started more than ``older_than_seconds`` ago."""
        before = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        stale: list[tuple[str, str]] = []
        markers: dict[str, str] = {}
        while True:
            with self._translated("list the unfinished uploads under", prefix):
                answer = await self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix, **markers)
            for upload in answer.get("Uploads", []):
                if upload["Initiated"] < before:
                    stale.append((str(upload["Key"]), str(upload["UploadId"])))
            if not answer.get("IsTruncated"):
                break
            markers = {"KeyMarker": answer["NextKeyMarker"], "UploadIdMarker": answer["NextUploadIdMarker"]}
        for key, upload_id in stale:
            await _Multipart(self, key, upload_id).abort()
        return len(stale)


class S3Client:
    """An ``S3Objects`` made on first use, on the loop that uses it: a connector or store built before the event
    loop starts (settings are read first) still makes its client where it runs."""

    def __init__(self, endpoint: S3Endpoint) -> None:
        self.endpoint = endpoint
        self._objects: S3Objects | None = None
        self._opening = asyncio.Lock()

    async def get(self) -> S3Objects:
        async with self._opening:
            if self._objects is None:
                self._objects = await S3Objects.open(self.endpoint)
            return self._objects

    async def close(self) -> None:
        async with self._opening:
            if self._objects is not None:
                await self._objects.close()
                self._objects = None


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A local file's bytes in chunks, each read on a worker thread."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


class _Multipart:
    """One multipart upload (or multipart copy) of ``key``: its id and the parts sent so far."""

    def __init__(self, objects: S3Objects, key: str, upload_id: str | None = None) -> None:
        self.objects = objects
        self.key = key
        self.upload_id = upload_id
        self.parts: list[dict[str, Any]] = []
        self.completed = False

    async def start(self, metadata: Mapping[str, str]) -> None:
        objects = self.objects
        with objects._translated("start a multipart upload of", self.key):
            answer = await objects._client.create_multipart_upload(
                Bucket=objects.bucket, Key=self.key, Metadata=dict(metadata), **objects._encryption()
            )
        self.upload_id = str(answer["UploadId"])

    async def add(self, body: bytes) -> None:
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise S3Failure(
                f"upload {self.objects._where(self.key)}: more than {MAX_PARTS} parts of {len(body)} bytes; "
                "raise part_size for objects this large",
                kind="refused",
                retryable=False,
            )
        with self.objects._translated(f"upload part {number} of", self.key):
            answer = await self.objects._client.upload_part(
                Bucket=self.objects.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
            )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def add_copy(self, source: Mapping[str, str], etag: str, first: int, last: int) -> None:
        number = len(self.parts) + 1
        with self.objects._translated(f"copy part {number} of", self.key):
            answer = await self.objects._client.upload_part_copy(
                Bucket=self.objects.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                CopySource=dict(source),
                CopySourceRange=f"bytes={first}-{last}",
                CopySourceIfMatch=etag,
            )
        self.parts.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})

    async def complete(self) -> str | None:
        with self.objects._translated("complete the multipart upload of", self.key):
            answer = await self.objects._client.complete_multipart_upload(
                Bucket=self.objects.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},
            )
        self.completed = True
        return _version(answer)

    async def abort(self) -> None:
        try:
            with self.objects._translated("abort the multipart upload of", self.key):
                await self.objects._client.abort_multipart_upload(
                    Bucket=self.objects.bucket, Key=self.key, UploadId=self.upload_id
                )
        except S3Failure as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == "NoSuchUpload":
                return  # already aborted or completed
            # Left for ``abort_uploads`` (the blobs.clean duty, or the bucket's lifecycle rule).
            log.warning("could not abort the multipart upload %s of %s: %s", self.upload_id, self.key, exc)


def _warm_up(session: AioSession) -> None:
    """Load botocore's S3 model and the configuration files (blocking reads), on a worker thread."""
    session.warm_up_loader_caches("s3")
    session.get_scoped_config()
