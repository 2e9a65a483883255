"""SFTP connector (LGWAN-ASP file services and other SSH endpoints) over asyncssh.

The server's host key is pinned from configuration and nothing else is trusted: no ``~/.ssh/known_hosts``,
no agent, no ``~/.ssh/config``. One SSH connection per operation keeps the connector stateless across hub
processes and restarts; its cost (tens of milliseconds) is small next to a package transfer.

Uploads go to a temp name in the target folder and are renamed once their size and SHA-256 are confirmed.
OpenSSH offers no server-side hash extension (``check-file``) and asyncssh has no client call for one, so the
hash is always confirmed by reading the file back, streamed in fixed chunks. Accounts and folder rights on the
server belong to its operator (the LGWAN-ASP provider): ``grant``/``revoke`` only validate their arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import posixpath
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal, cast

import asyncssh
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
from connectors.local import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    check_access_request,
    check_segment,
    folder_parts,
    sha256_file,
)
from connectors.options import ConnectorOptions, SecretRef

_READ_CHUNK = 4 * CHUNK_SIZE


def _technical(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _sftp_error(exc: asyncssh.SFTPError, action_ja: str) -> ConnectorError:
    """Map an SFTP status to a ConnectorError.

    OpenSSH speaks SFTP v3, where a full disk, a quota or a file-size limit all arrive as the generic
    ``SSH_FX_FAILURE``; that status is therefore retryable, like the explicit no-space codes of later versions.
    """
    technical = _technical(exc)
    if isinstance(exc, asyncssh.SFTPNoSpaceOnFilesystem | asyncssh.SFTPQuotaExceeded):
        return ConnectorError(
            f"{action_ja}できません：SFTP サーバーの空き容量が不足しています。{technical}", retryable=True
        )
    if isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection):
        return ConnectorError(f"{action_ja}できません：SFTP サーバーとの接続が切れました。{technical}", retryable=True)
    if isinstance(exc, asyncssh.SFTPFailure):
        return ConnectorError(
            f"{action_ja}できません：SFTP サーバーで書き込みに失敗しました（容量不足の可能性があります）。{technical}",
            retryable=True,
        )
    if isinstance(exc, asyncssh.SFTPPermissionDenied | asyncssh.SFTPWriteProtect):
        return ConnectorError(f"{action_ja}できません：SFTP サーバーで権限がありません。{technical}", retryable=False)
    if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return ConnectorError(
            f"{action_ja}できません：SFTP サーバーに指定のフォルダがありません。{technical}", retryable=False
        )
    return ConnectorError(f"{action_ja}できません：SFTP サーバーがエラーを返しました。{technical}", retryable=False)


class SftpOptions(ConnectorOptions):
    """``host_key`` is the server's public key (``ssh-ed25519 AAAA…``), pinned; ``root`` is a folder on the server."""

    kind: Literal["sftp"] = "sftp"
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    host_key: str
    root: PurePosixPath = PurePosixPath(".")
    password: SecretRef | None = None
    private_key: SecretRef | None = None

    @model_validator(mode="after")
    def _credentials(self) -> SftpOptions:
        if self.password is None and self.private_key is None:
            raise ValueError("an sftp connector needs password or private_key")
        return self

    def build(self, name: str, jurisdiction: Jurisdiction) -> SftpConnector:
        return SftpConnector(
            name,
            jurisdiction,
            host=self.host,
            port=self.port,
            username=self.username,
            host_key=self.host_key,
            root=str(self.root),
            password=None if self.password is None else self.password.read().get_secret_value(),
            client_key=None if self.private_key is None else self.private_key.read().get_secret_value(),
        )


class SftpConnector(Connector):
    kind = "sftp"

    def __init__(
        self,
        name: str,
        jurisdiction: Jurisdiction,
        *,
        host: str,
        username: str,
        host_key: str,
        port: int = 22,
        root: str = ".",
        client_key: str | None = None,
        client_key_passphrase: str | None = None,
        password: str | None = None,
        connect_timeout: float = 15.0,
    ) -> None:
        super().__init__(name, jurisdiction)
        self.host = host
        self.port = port
        self.username = username
        self.root = root
        self.connect_timeout = connect_timeout
        if client_key is None and password is None:
            raise ValueError(
                f"SFTP 接続先「{name}」に認証情報（秘密鍵またはパスワード）がありません。"
                "sftp connector needs client_key or password"
            )
        try:
            asyncssh.import_public_key(host_key)
            pattern = host if port == 22 else f"[{host}]:{port}"
            self._known_hosts = asyncssh.import_known_hosts(f"{pattern} {host_key.strip()}\n")
            self._client_keys = (
                None if client_key is None else [asyncssh.import_private_key(client_key, client_key_passphrase)]
            )
        except (asyncssh.KeyImportError, ValueError) as exc:
            # The message of a key import error never contains the key material itself.
            raise ValueError(
                f"SFTP 接続先「{name}」の鍵の設定が読み取れません。cannot parse keys for sftp connector {name!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._password = password

    def __repr__(self) -> str:
        return f"SftpConnector(name={self.name!r}, host={self.host!r}, port={self.port}, user={self.username!r})"

    @contextlib.asynccontextmanager
    async def _session(self, action_ja: str) -> AsyncIterator[asyncssh.SFTPClient]:
        where = f"{self.host}:{self.port}"
        try:
            async with (
                asyncssh.connect(
                    self.host,
                    self.port,
                    username=self.username,
                    known_hosts=self._known_hosts,
                    client_keys=self._client_keys,
                    password=self._password,
                    agent_path=None,
                    config=None,
                    connect_timeout=self.connect_timeout,
                ) as conn,
                conn.start_sftp_client() as sftp,
            ):
                yield sftp
        except asyncssh.HostKeyNotVerifiable as exc:
            raise ConnectorError(
                f"{action_ja}できません：SFTP サーバー {where} のホスト鍵が設定と一致しません。"
                "なりすましの恐れがあるため接続を中止しました。鍵が正式に変更された場合は設定の host_key を"
                f"更新してください。host key of {where} does not match the pinned key ({_technical(exc)})",
                retryable=False,
            ) from exc
        except asyncssh.PermissionDenied as exc:
            raise ConnectorError(
                f"{action_ja}できません：SFTP サーバー {where} で認証に失敗しました（ユーザー {self.username}）。"
                f"authentication failed ({_technical(exc)})",
                retryable=False,
            ) from exc
        except asyncssh.SFTPError as exc:
            raise _sftp_error(exc, action_ja) from exc
        except (OSError, asyncssh.Error) as exc:
            raise ConnectorError(
                f"{action_ja}できません：SFTP サーバー {where} に接続できません。({_technical(exc)})",
                retryable=True,
            ) from exc

    def _remote_dir(self, folder: str) -> str:
        return posixpath.join(self.root, *folder_parts(folder))

    def _remote_path(self, folder: str, name: str) -> str:
        return posixpath.join(self._remote_dir(folder), check_segment(name, "ファイル名"))

    def _stored(self, folder: str, name: str, size: int, sha256: str) -> StoredObject:
        return StoredObject(
            connector=self.name,
            folder=folder,
            name=name,
            location=self._remote_path(folder, name),
            size=size,
            sha256=sha256,
        )

    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        directory = self._remote_dir(folder)
        target = self._remote_path(folder, name)
        async with self._session("パッケージを SFTP サーバーに送信") as sftp:
            existing = await self._stat(sftp, target)
            if existing is not None:
                size, digest = await asyncio.to_thread(sha256_file, source)
                if existing.size != size or await self._remote_sha256(sftp, target) != digest:
                    raise ConnectorError(
                        f"SFTP サーバーに同じ名前で内容の異なるファイルがあります：{target}。"
                        f"a different file already exists at {target}",
                        retryable=False,
                    )
                return self._stored(folder, name, size, digest)
            await sftp.makedirs(directory, exist_ok=True)
            temp = posixpath.join(directory, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")
            try:
                size, digest = await self._upload(sftp, source, temp)
                await self._check(sftp, temp, size, digest)
                try:
                    await sftp.posix_rename(temp, target)
                except asyncssh.SFTPOpUnsupported:
                    await sftp.rename(temp, target)
            except BaseException:
                with contextlib.suppress(asyncssh.Error, OSError):
                    await sftp.remove(temp)
                raise
        return self._stored(folder, name, size, digest)

    @staticmethod
    async def _upload(sftp: asyncssh.SFTPClient, source: Path, remote: str) -> tuple[int, str]:
        try:
            handle: BinaryIO = await asyncio.to_thread(source.open, "rb")
        except OSError as exc:
            raise ConnectorError(
                f"送信元ファイルを開けません。cannot open source {source}: {exc}", retryable=False
            ) from exc
        digest = hashlib.sha256()
        size = 0

        def read_chunk() -> bytes:
            chunk = handle.read(CHUNK_SIZE)
            digest.update(chunk)
            return chunk

        try:
            async with sftp.open(remote, "wb") as remote_file:
                while chunk := await asyncio.to_thread(read_chunk):
                    await remote_file.write(chunk, size)
                    size += len(chunk)
        finally:
            await asyncio.to_thread(handle.close)
        return size, digest.hexdigest()

    @staticmethod
    async def _stat(sftp: asyncssh.SFTPClient, path: str) -> asyncssh.SFTPAttrs | None:
        try:
            return await sftp.stat(path)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None

    @staticmethod
    async def _remote_sha256(sftp: asyncssh.SFTPClient, path: str) -> str:
        digest = hashlib.sha256()
        async with sftp.open(path, "rb") as remote_file:
            # Opened in binary mode, so reads return bytes; asyncssh types them as AnyStr.
            while chunk := cast(bytes, await remote_file.read(_READ_CHUNK)):
                await asyncio.to_thread(digest.update, chunk)
        return digest.hexdigest()

    async def _check(self, sftp: asyncssh.SFTPClient, path: str, size: int, sha256: str) -> None:
        attrs = await self._stat(sftp, path)
        if attrs is None:
            raise VerificationError(f"SFTP サーバーにファイルがありません：{path}。missing")
        if attrs.size != size:
            raise VerificationError(
                f"SFTP サーバー上のファイルの大きさが一致しません：{path}。expected {size}, found {attrs.size}"
            )
        actual = await self._remote_sha256(sftp, path)
        if actual != sha256.lower():
            raise VerificationError(
                f"SFTP サーバー上のファイルの内容が一致しません：{path}。expected sha256 {sha256}, found {actual}"
            )

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        async with self._session("SFTP サーバー上のファイルを確認") as sftp:
            await self._check(sftp, self._remote_path(obj.folder, obj.name), size, sha256)

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        check_access_request(folder, people, role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        check_access_request(folder, people, None)

    async def delete(self, obj: StoredObject) -> None:
        path = self._remote_path(obj.folder, obj.name)
        async with self._session("SFTP サーバー上のファイルを削除") as sftp:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                await sftp.remove(path)
            if await self._stat(sftp, path) is not None:
                raise ConnectorError(
                    f"SFTP サーバー上のファイルを削除できたことを確認できません：{path}。still present after remove",
                    retryable=True,
                )

    async def exists(self, obj: StoredObject) -> bool:
        async with self._session("SFTP サーバー上のファイルを確認") as sftp:
            return await self._stat(sftp, self._remote_path(obj.folder, obj.name)) is not None

    async def health(self) -> HealthReport:
        try:
            async with self._session("SFTP サーバーの状態を確認") as sftp:
                if not await sftp.isdir(self.root):
                    return HealthReport(
                        False, True, f"SFTP サーバーにフォルダ {self.root} がありません。root folder missing"
                    )
        except ConnectorError as exc:
            # A refused login or host key still means the server answered: it is reachable.
            return HealthReport(not exc.retryable, False, exc.reason_ja)
        return HealthReport(True, True, f"SFTP サーバー {self.host}:{self.port} に接続・認証できました。")
