"""Box connector: packages go to one folder per contract under a configured root folder.

Authentication is the Client Credentials Grant of a Box Platform app. The SDK (``box_sdk_gen``) is synchronous,
so every call runs in a worker thread; a semaphore bounds how many run at once. The SDK retries 429/5xx itself
(honouring ``Retry-After``), refreshes the token on a 401 and polls a commit answered with 202.

Idempotent ``put``: a file of the same name and SHA-1 already in the folder is the earlier delivery and is
returned as is. A file of the same name with other content is refused (not replaced by a new version): a
package already handed over may have been downloaded and entered in the register, so its content must never
change silently behind that entry; staff decide what happens instead.

The ``metadata`` of ``put`` is not sent to Box: Box keeps custom metadata only in enterprise templates that a
Box admin has to create first, and the register already holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import requests
from box_sdk_gen import (
    BaseUrls,
    BoxAPIError,
    BoxCCGAuth,
    BoxClient,
    BoxNetworkClient,
    BoxRetryStrategy,
    BoxSDKError,
    CCGConfig,
    CreateCollaborationAccessibleBy,
    CreateCollaborationAccessibleByTypeField,
    CreateCollaborationItem,
    CreateCollaborationItemTypeField,
    CreateCollaborationRole,
    CreateFolderParent,
    NetworkSession,
    PreflightFileUploadCheckParent,
    UpdateCollaborationByIdRole,
    UploadFileAttributes,
    UploadFileAttributesParentField,
)

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
from connectors.box_answers import (
    NETWORK_JA,
    RemoteFile,
    api_error,
    hash_file,
    ignore_404,
    may_have_landed,
    name_conflict,
    outcome_unknown,
    remote_file,
)
from connectors.options import ConnectorOptions, SecretRef

T = TypeVar("T")

# Box accepts upload sessions only for files of at least this size.
MIN_CHUNKED_SIZE = 20_000_000
_FILE_FIELDS = ["name", "size", "sha1", "item_status", "parent"]


class BoxOptions(ConnectorOptions):
    """A Box Platform app's Client Credentials Grant; ``base_url`` only for an emulator or a gateway."""

    kind: Literal["box"] = "box"
    client_id: str
    client_secret: SecretRef
    enterprise_id: str
    root_folder_id: str
    base_url: str | None = None

    def build(self, name: str, jurisdiction: Jurisdiction) -> BoxConnector:
        return BoxConnector(
            name,
            jurisdiction,
            client_id=self.client_id,
            client_secret=self.client_secret.read().get_secret_value(),
            enterprise_id=self.enterprise_id,
            root_folder_id=self.root_folder_id,
            base_url=self.base_url,
        )


class BoxConnector(Connector):
    kind: ClassVar[str] = "box"

    def __init__(
        self,
        name: str,
        jurisdiction: Jurisdiction,
        *,
        client_id: str,
        client_secret: str,
        enterprise_id: str | None = None,
        user_id: str | None = None,
        root_folder_id: str = "0",
        base_url: str | None = None,
        chunked_threshold: int = 50 * 1024 * 1024,
        max_attempts: int = 5,
        retry_base_interval: float = 1.0,
        max_concurrency: int = 4,
    ) -> None:
        """``base_url`` serves API, uploads and OAuth2 from one root (an emulator or a gateway); None = Box."""
        super().__init__(name, jurisdiction)
        if (enterprise_id is None) == (user_id is None):
            raise ValueError("exactly one of enterprise_id and user_id is required")
        if chunked_threshold < MIN_CHUNKED_SIZE:
            raise ValueError(f"chunked_threshold must be at least {MIN_CHUNKED_SIZE} bytes (Box's minimum)")
        self.root_folder_id = root_folder_id
        self.chunked_threshold = chunked_threshold
        self._semaphore = asyncio.Semaphore(max_concurrency)
        # Our own requests session, so close() can release its pooled sockets.
        self._http = requests.Session()
        base_urls = (
            BaseUrls()
            if base_url is None
            else BaseUrls(base_url=base_url, upload_url=f"{base_url}/api", oauth_2_url=f"{base_url}/oauth2")
        )
        self._network = NetworkSession(
            network_client=BoxNetworkClient(requests_session=self._http),
            base_urls=base_urls,
            retry_strategy=BoxRetryStrategy(max_attempts=max_attempts, retry_base_interval=retry_base_interval),
        )
        self._auth = BoxCCGAuth(
            config=CCGConfig(
                client_id=client_id,
                client_secret=client_secret,
                enterprise_id=enterprise_id,
                user_id=user_id,
            )
        )
        self._client = BoxClient(auth=self._auth, network_session=self._network)

    def __repr__(self) -> str:
        # Never show credentials, whatever a default repr might pick up.
        return f"BoxConnector(name={self.name!r}, root_folder_id={self.root_folder_id!r})"

    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        try:
            size, sha1, sha256 = await asyncio.to_thread(hash_file, source)
        except OSError as exc:
            raise ConnectorError(f"送信するファイルを読み込めません: {source.name}", retryable=False) from exc
        stored = await self._run(self._put_sync, folder, name, source, size, sha1)
        return StoredObject(
            connector=self.name,
            folder=folder,
            name=name,
            location=stored.id,
            size=stored.size,
            sha256=sha256,
            extra={"sha1": stored.sha1},
        )

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        """Box reports only size and SHA-1; the SHA-1 recorded by ``put`` stands in for the SHA-256."""
        if obj.sha256 is not None and obj.sha256 != sha256:
            raise VerificationError("Boxに送ったファイルは、期待される内容（SHA-256）と異なります。")
        remote = await self._run(self._get_file, obj.location)
        if remote is None or not remote.active:
            raise VerificationError(f"Box上にファイル「{obj.name}」が見つからないか、ごみ箱に移されています。")
        if remote.size != size:
            raise VerificationError(
                f"Box上のファイル「{obj.name}」の大きさが違います（Box: {remote.size} バイト、期待: {size} バイト）。"
            )
        expected_sha1 = obj.extra.get("sha1")
        if expected_sha1 is not None and remote.sha1 != expected_sha1:
            raise VerificationError(f"Box上のファイル「{obj.name}」の内容（SHA-1）が送ったものと異なります。")

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        """Add these people (by login e-mail); others keep their access, which only ``revoke`` removes."""
        await self._run(self._grant_sync, folder, list(people), role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        await self._run(self._revoke_sync, folder, list(people))

    async def delete(self, obj: StoredObject) -> None:
        await self._run(self._delete_sync, obj.location)
        if await self.exists(obj):
            raise ConnectorError(
                f"Box上のファイル「{obj.name}」の削除を確認できません（まだ参照できます）。", retryable=True
            )

    async def exists(self, obj: StoredObject) -> bool:
        """A file in the trash still exists: Box answers GET for it until it is purged."""
        return await self._run(self._get_file, obj.location) is not None

    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        """Found by name (preflight answers with the conflicting item); nothing is created while looking.

        Box reports SHA-1 only, so with ``expected`` the object carries that file's SHA-1 and SHA-256, and
        ``verify`` compares Box's SHA-1 with it; without, it carries what Box reports.
        """
        found = await self._run(self._locate_sync, folder, name)
        if found is None or not found.active:
            return None
        sha256: str | None = None
        sha1 = found.sha1
        if expected is not None:
            try:
                _size, sha1, sha256 = await asyncio.to_thread(hash_file, expected)
            except OSError as exc:
                raise ConnectorError(f"照合に使うファイルを読み込めません: {expected.name}", retryable=False) from exc
        return StoredObject(
            connector=self.name,
            folder=folder,
            name=name,
            location=found.id,
            size=found.size,
            sha256=sha256,
            extra={"sha1": sha1},
        )

    def _locate_sync(self, folder: str, name: str) -> RemoteFile | None:
        try:
            self._client.uploads.preflight_file_upload_check(
                name=folder, size=0, parent=PreflightFileUploadCheckParent(id=self.root_folder_id)
            )
        except BoxAPIError as exc:
            conflict = name_conflict(exc)
            if conflict is None:
                raise
            if conflict.get("type") != "folder":
                return None
            return self._preflight(str(conflict["id"]), name, 0)
        return None  # no such folder, so no such file

    async def health(self) -> HealthReport:
        async with self._semaphore:
            return await asyncio.to_thread(self._health_sync)

    def _health_sync(self) -> HealthReport:
        try:
            # A fresh token proves the credentials now, not when the cached token was issued.
            self._auth.refresh_token(network_session=self._network)
        except BoxAPIError as exc:
            return HealthReport(reachable=True, authenticated=False, detail=api_error(exc).reason_ja)
        except BoxSDKError:
            return HealthReport(reachable=False, authenticated=False, detail=NETWORK_JA)
        try:
            self._client.folders.get_folder_by_id(self.root_folder_id, fields=["name"])
        except BoxAPIError as exc:
            return HealthReport(reachable=True, authenticated=True, detail=api_error(exc).reason_ja)
        except BoxSDKError:
            return HealthReport(reachable=False, authenticated=True, detail=NETWORK_JA)
        return HealthReport(reachable=True, authenticated=True, detail="Boxに接続し、ルートフォルダを確認しました。")

    async def close(self) -> None:
        self._http.close()

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        async with self._semaphore:
            try:
                return await asyncio.to_thread(func, *args)
            except ConnectorError:
                raise
            except BoxAPIError as exc:
                raise api_error(exc) from exc
            except BoxSDKError as exc:
                raise ConnectorError(NETWORK_JA, retryable=True) from exc
            except AssertionError as exc:
                # upload_big_file asserts each part's SHA-1, size and offset and the number of parts.
                raise ConnectorError(
                    "Boxへの分割アップロードで、受け取られた内容が送った内容と一致しませんでした。", retryable=True
                ) from exc
            except OSError as exc:
                raise ConnectorError("送信するファイルを読み込めません。", retryable=False) from exc

    def _folder_id(self, folder: str) -> str:
        try:
            created = self._client.folders.create_folder(
                folder, CreateFolderParent(id=self.root_folder_id), fields=["name"]
            )
        except BoxAPIError as exc:
            conflict = name_conflict(exc)
            if conflict is None:
                raise
            if conflict.get("type") != "folder":
                raise ConnectorError(
                    f"Boxのフォルダ「{folder}」を作れません。同じ名前のファイルがあります。", retryable=False
                ) from exc
            return str(conflict["id"])
        return created.id

    def _put_sync(self, folder: str, name: str, source: Path, size: int, sha1: str) -> RemoteFile:
        folder_id = self._folder_id(folder)
        existing = self._preflight(folder_id, name, size)
        if existing is None:
            try:
                existing = self._upload(folder_id, name, source, size, sha1)
            except (BoxSDKError, AssertionError, ConnectorError) as failure:
                # The upload may have landed before its answer was lost (a retried POST, a repeated commit).
                try:
                    existing = self._preflight(folder_id, name, size)
                except (BoxSDKError, ConnectorError) as exc:
                    if may_have_landed(failure):
                        raise outcome_unknown(name) from exc
                    raise
                if existing is None:
                    raise
        if existing.sha1 != sha1 or existing.size != size:
            raise ConnectorError(
                f"Boxのフォルダ「{folder}」に、内容の異なる同名のファイル「{name}」が既にあります。"
                "上書きしません。担当者が確認してください。",
                retryable=False,
            )
        return existing

    def _preflight(self, folder_id: str, name: str, size: int) -> RemoteFile | None:
        """The file already stored under ``name`` in the folder, or None when an upload would be accepted."""
        try:
            self._client.uploads.preflight_file_upload_check(
                name=name, size=size, parent=PreflightFileUploadCheckParent(id=folder_id)
            )
        except BoxAPIError as exc:
            conflict = name_conflict(exc)
            if conflict is None:
                raise
            if conflict.get("type") != "file":
                raise ConnectorError(
                    f"Boxに「{name}」を置けません。同じ名前のフォルダがあります。", retryable=False
                ) from exc
            found = self._get_file(str(conflict["id"]))
            if found is None:
                raise ConnectorError(f"Box上の同名ファイル「{name}」を確認できません。", retryable=True) from exc
            return found
        return None

    def _upload(self, folder_id: str, name: str, source: Path, size: int, sha1: str) -> RemoteFile:
        with source.open("rb") as stream:
            if size >= self.chunked_threshold:
                try:
                    uploaded = self._client.chunked_uploads.upload_big_file(stream, name, size, folder_id)
                except AttributeError as exc:
                    # upload_big_file dereferences the commit answer, None while Box still answers 202.
                    raise ConnectorError(
                        "Boxが分割アップロードの確定処理をまだ終えていません。", retryable=True
                    ) from exc
            else:
                files = self._client.uploads.upload_file(
                    UploadFileAttributes(name=name, parent=UploadFileAttributesParentField(id=folder_id)),
                    stream,
                    # Box reads this header as the SHA-1 (not MD5) and rejects a body that does not match.
                    content_md_5=sha1,
                )
                if not files.entries:
                    raise ConnectorError("Boxがアップロード結果を返しませんでした。", retryable=True)
                uploaded = files.entries[0]
        return remote_file(uploaded)

    def _get_file(self, file_id: str) -> RemoteFile | None:
        try:
            return remote_file(self._client.files.get_file_by_id(file_id, fields=_FILE_FIELDS))
        except BoxAPIError as exc:
            if exc.response_info.status_code == 404:
                return None
            raise

    def _collaborations(self, folder_id: str) -> dict[str, tuple[str, str]]:
        """Login e-mail (lower case) → (collaboration id, role), including invitations still pending."""
        found: dict[str, tuple[str, str]] = {}
        marker: str | None = None
        while True:
            page = self._client.list_collaborations.get_folder_collaborations(folder_id, limit=1000, marker=marker)
            for collab in page.entries or []:
                login = getattr(collab.accessible_by, "login", None) or collab.invite_email
                if login and collab.role is not None:
                    found[login.lower()] = (collab.id, collab.role.value)
            marker = page.next_marker
            if not marker:
                return found

    def _grant_sync(self, folder: str, people: Iterable[Grantee], role: AccessRole) -> None:
        folder_id = self._folder_id(folder)
        current = self._collaborations(folder_id)
        for person in people:
            existing = current.get(person.login.lower())
            if existing is None:
                self._create_collaboration(folder_id, person, role)
            elif existing[1] != role:
                self._client.user_collaborations.update_collaboration_by_id(
                    existing[0], role=UpdateCollaborationByIdRole(role)
                )

    def _create_collaboration(self, folder_id: str, person: Grantee, role: AccessRole) -> None:
        try:
            self._client.user_collaborations.create_collaboration(
                CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=folder_id),
                CreateCollaborationAccessibleBy(type=CreateCollaborationAccessibleByTypeField.USER, login=person.login),
                CreateCollaborationRole(role),
            )
        except BoxAPIError as exc:
            # A collaboration created by a request whose answer was lost, then retried.
            if exc.response_info.code != "user_already_collaborator":
                raise

    def _revoke_sync(self, folder: str, people: Iterable[Grantee]) -> None:
        folder_id = self._folder_id(folder)
        current = self._collaborations(folder_id)
        for person in people:
            existing = current.get(person.login.lower())
            if existing is not None:
                ignore_404(self._client.user_collaborations.delete_collaboration_by_id, existing[0])

    def _delete_sync(self, file_id: str) -> None:
        # 404 means already trashed (or purged); the purge below still has to run.
        ignore_404(self._client.files.delete_file_by_id, file_id)
        ignore_404(self._client.trashed_files.delete_trashed_file_by_id, file_id)
