"""S3 connector: packages land as objects ``<prefix>/<folder>/<name>`` in one bucket (AWS S3 in a Japanese region,
or an S3-compatible store at ``endpoint_url``); the bucket and prefix are set per connector, the folder is the
one the route target names.

Jurisdiction (C-14) follows from the region: ``ap-northeast-1`` is Tokyo, ``ap-northeast-3`` Osaka; any other
region is refused when the configuration is read. The S3 work (streaming multipart upload, SHA-256 metadata,
verified deletion of every version, retries with back-off) is ``connectors.s3_objects``, shared with the hub's S3
blob store.

An upload is checked once it is complete: a HEAD must show the size sent and the SHA-256 stored with it (the
hash is computed from the local file before the upload and sent as object metadata; S3 checks each request's
bytes with its own CRC32 checksum on arrival). A retry after a lost answer finds the object by name (``locate``),
and a second put of the same content returns it as is; other content under the same name is refused, as on the
other endpoints. Deletion removes every version and delete marker of the key and checks that none is left.

Per-person access is out of scope for S3: who may read the bucket is the bucket owner's IAM and bucket policy,
which the hub does not manage, so ``grant``/``revoke`` only validate their arguments. ``metadata`` of ``put`` is
not stored with the object (S3 user metadata is ASCII-only; the register holds it).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from connectors.base import (
    AccessRole,
    Connector,
    ConnectorError,
    Grantee,
    HealthReport,
    Jurisdiction,
    StoredObject,
    VerificationError,
)
from connectors.local import check_access_request, check_segment, folder_parts, sha256_file
from connectors.options import ConnectorOptions, JurisdictionOptions, SecretRef
from connectors.s3_objects import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    Head,
    RetryMode,
    S3Client,
    S3Endpoint,
    S3Failure,
    ServerSideEncryption,
    file_chunks,
    region_jurisdiction,
)


class S3Options(ConnectorOptions):
    """``bucket`` and ``prefix`` (per contract, if each contract has its own), ``region`` (Tokyo or Osaka), and the
    credentials as secret references. ``jurisdiction`` is not written: it follows from the region."""

    kind: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    region: str
    endpoint_url: str | None = None
    access_key_id: SecretRef
    secret_access_key: SecretRef
    server_side_encryption: ServerSideEncryption | None = None
    kms_key_id: str | None = None
    part_size: int = Field(default=DEFAULT_PART_SIZE, ge=MIN_PART_SIZE, le=5 * 1024**3)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_mode: RetryMode = "standard"

    @model_validator(mode="before")
    @classmethod
    def _jurisdiction_from_region(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "region" not in data:
            return data
        if "jurisdiction" in data:
            raise ValueError("an s3 connector's jurisdiction follows from its region: leave 'jurisdiction' out")
        place = region_jurisdiction(str(data["region"]))  # ValueError (C-14) outside Tokyo and Osaka
        return {**data, "jurisdiction": JurisdictionOptions(country=place.country, region=place.region)}

    @model_validator(mode="after")
    def _kms_key(self) -> S3Options:
        if self.kms_key_id is not None and self.server_side_encryption != "aws:kms":
            raise ValueError('kms_key_id goes with server_side_encryption = "aws:kms"')
        return self

    def build(self, name: str, jurisdiction: Jurisdiction) -> S3Connector:
        endpoint = S3Endpoint(
            bucket=self.bucket,
            region=self.region,
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key_id.read().get_secret_value(),
            secret_access_key=self.secret_access_key.read().get_secret_value(),
            server_side_encryption=self.server_side_encryption,
            kms_key_id=self.kms_key_id,
            max_attempts=self.max_attempts,
            retry_mode=self.retry_mode,
        )
        return S3Connector(name, jurisdiction, endpoint, prefix=self.prefix, part_size=self.part_size)


def _connector_error(exc: S3Failure, action_ja: str, *, may_be_stored: bool = False) -> ConnectorError:
    reason = {
        "no_bucket": "S3 バケットがありません",
        "denied": "S3 へのアクセスが拒否されました（アクセスキー・シークレットキー・バケットポリシーを確認）",
        "transient": "S3 が一時的に応答しません（自動で再試行します）",
        "mismatch": "S3 上のオブジェクトが送信したものと一致しません",
    }.get(exc.kind, "S3 が要求を受け付けませんでした")
    return ConnectorError(
        f"{action_ja}できません：{reason}。{exc}", retryable=exc.retryable, may_be_stored=may_be_stored
    )


class S3Connector(Connector):
    kind = "s3"

    def __init__(
        self,
        name: str,
        jurisdiction: Jurisdiction,
        endpoint: S3Endpoint,
        *,
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        super().__init__(name, jurisdiction)
        self.endpoint = endpoint
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self._client = S3Client(endpoint)

    def __repr__(self) -> str:
        return f"S3Connector(name={self.name!r}, bucket={self.endpoint.bucket!r}, prefix={self.prefix!r})"

    def _key(self, folder: str, name: str) -> str:
        parts = [*folder_parts(folder), check_segment(name, "ファイル名")]
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def _stored(self, folder: str, name: str, head: Head) -> StoredObject:
        return StoredObject(
            connector=self.name,
            folder=folder,
            name=name,
            location=f"s3://{self.endpoint.bucket}/{self._key(folder, name)}",
            size=head.size,
            sha256=head.sha256,
            extra={"version_id": head.version_id} if head.version_id else {},
        )

    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        key = self._key(folder, name)
        try:
            size, digest = await asyncio.to_thread(sha256_file, source)
        except OSError as exc:
            raise ConnectorError(
                f"送信元ファイルを開けません。cannot open source {source}: {exc}", retryable=False
            ) from exc
        objects = await self._client.get()
        try:
            existing = await objects.head(key)
        except S3Failure as exc:
            raise _connector_error(exc, "パッケージを S3 に送信") from exc
        if existing is not None:
            if existing.size != size or await self._sha256_of(key, existing) != digest:
                raise ConnectorError(
                    f"S3 に同じ名前で内容の異なるオブジェクトがあります：{key}。a different object already exists",
                    retryable=False,
                )
            return self._stored(folder, name, existing)
        try:
            await objects.put_stream(key, file_chunks(source), part_size=self.part_size, expected_sha256=digest)
            head = await objects.head(key)
        except S3Failure as exc:
            # A lost answer to the last request may hide a stored object: the queue asks ``locate`` first.
            raise _connector_error(exc, "パッケージを S3 に送信", may_be_stored=exc.retryable) from exc
        if head is None:
            raise VerificationError(f"S3 に送信したオブジェクトが見つかりません：{key}。missing after upload")
        return self._stored(folder, name, head)

    async def _sha256_of(self, key: str, head: Head) -> str:
        """The stored hash, or (an object not put by the hub) the hash of its bytes."""
        if head.sha256 is not None:
            return head.sha256
        digest = hashlib.sha256()
        async for chunk in (await self._client.get()).read(key):
            digest.update(chunk)
        return digest.hexdigest()

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        key = self._key(obj.folder, obj.name)
        try:
            head = await (await self._client.get()).head(key)
            if head is None:
                raise VerificationError(f"S3 にオブジェクトがありません：{key}。missing")
            actual = await self._sha256_of(key, head)
        except S3Failure as exc:
            raise _connector_error(exc, "S3 上のオブジェクトを確認") from exc
        if head.size != size or actual != sha256.lower():
            raise VerificationError(
                f"S3 上のオブジェクトが送信したものと一致しません：{key}。"
                f"expected size={size} sha256={sha256}, found size={head.size} sha256={actual}"
            )

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        check_access_request(folder, people, role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        check_access_request(folder, people, None)

    async def delete(self, obj: StoredObject) -> None:
        key = self._key(obj.folder, obj.name)
        try:
            await (await self._client.get()).delete_everywhere(key)
        except S3Failure as exc:
            raise _connector_error(exc, "S3 上のオブジェクトを削除") from exc

    async def exists(self, obj: StoredObject) -> bool:
        """True while any version of the object is left (a delete marker alone still hides older versions)."""
        try:
            return bool(await (await self._client.get()).versions(self._key(obj.folder, obj.name)))
        except S3Failure as exc:
            raise _connector_error(exc, "S3 上のオブジェクトを確認") from exc

    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        """The object under its name, with the hash it was stored with; a pending multipart upload is nothing."""
        try:
            head = await (await self._client.get()).head(self._key(folder, name))
        except S3Failure as exc:
            raise _connector_error(exc, "S3 上のオブジェクトを確認") from exc
        return None if head is None else self._stored(folder, name, head)

    async def health(self) -> HealthReport:
        bucket = self.endpoint.bucket
        try:
            await (await self._client.get()).check_bucket()
        except S3Failure as exc:
            # A refusal still means the endpoint answered: it is reachable.
            answered = exc.kind in ("no_bucket", "denied")
            return HealthReport(answered, False, _connector_error(exc, f"S3 バケット {bucket} を確認").reason_ja)
        return HealthReport(True, True, f"S3 バケット {bucket}（{self.endpoint.region}）に接続・認証できました。")

    async def close(self) -> None:
        await self._client.close()
