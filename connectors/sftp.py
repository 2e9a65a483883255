"""SFTP connector (LGWAN-ASP file services and other SSH endpoints) over asyncssh.

The server's host key is pinned from configuration and nothing else is trusted: no ``~/.ssh/known_hosts``,
no agent, no ``~/.ssh/config``. One SSH connection per operation keeps the connector stateless across hub
processes and restarts; its cost (tens of milliseconds) is small next to a package transfer.

Uploads go to a temp name in the target folder and are renamed once their size and SHA-256 are confirmed.
OpenSSH offers no server-side hash extension (``check-file``) and asyncssh has no client call for one, so the
hash is always confirmed by reading the file back, streamed in fixed chunks. Accounts and folder rights on the
server belong to its operator (the LGWAN-ASP provider): ``grant``/``revoke`` only validate their arguments.

Nothing waits for ever: the connection has a connect timeout and keepalives, and every SFTP request has an I/O
timeout after which the connection is cut and the delivery fails as retryable. A failed upload removes its temp
file when the connection still allows it; otherwise the next delivery to that folder removes temp files older
than ``stale_part_age``. Only a failure during the final rename leaves the outcome unknown (``may_be_stored``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import posixpath
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal, TypeVar, cast

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
T = TypeVar("T")
log = logging.getLogger(__name__)


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
    """``host_key`` is the server's public key (``ssh-ed25519 AAAA…``), pinned; ``root`` is a folder on the server.

    Timeouts are seconds. ``io_timeout`` bounds every single SFTP request (one chunk written, one stat), so a
    server that stops answering fails the delivery within that time instead of holding a worker; keepalives
    find a dead connection between requests. ``stale_part_age`` is how old a leftover ``.handover-*.part``
    must be before the next delivery to its folder removes it.
    """

    kind: Literal["sftp"] = "sftp"
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    host_key: str
    root: PurePosixPath = PurePosixPath(".")
    password: SecretRef | None = None
    private_key: SecretRef | None = None
    connect_timeout: float = Field(default=15.0, gt=0, le=300)
    io_timeout: float = Field(default=30.0, gt=0, le=600)
    keepalive_interval: float = Field(default=15.0, gt=0, le=600)
    keepalive_count_max: int = Field(default=3, ge=1, le=20)
    stale_part_age: float = Field(default=3600.0, ge=60, le=30 * 86400)

    @model_validator(mode="after")
    def _credentials(self) -> SftpOptions:
        if self.password is None and self.private_key is None:
            raise ValueError("an sftp connector needs password or private_key")
        return self

    @model_validator(mode="after")
    def _part_age(self) -> SftpOptions:
        # A transfer in progress touches its temp file at least every io_timeout; younger files may be live.
        if self.stale_part_age < 2 * self.io_timeout:
            raise ValueError("stale_part_age must be at least twice io_timeout")
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
            timeouts=SftpTimeouts(
                connect=self.connect_timeout,
                io=self.io_timeout,
                keepalive_interval=self.keepalive_interval,
                keepalive_count_max=self.keepalive_count_max,
                stale_part_age=self.stale_part_age,
            ),
        )


@dataclass(frozen=True)
class SftpTimeouts:
    """Seconds; see ``SftpOptions``."""

    connect: float = 15.0
    io: float = 30.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    stale_part_age: float = 3600.0


class _Session:
    """One SSH connection and its SFTP client; every request goes through ``io``, bounded by the I/O timeout."""

    def __init__(self, conn: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient, timeout: float) -> None:
        self.conn = conn
        self.sftp = sftp
        self.timeout = timeout
        self.stalled = False

    async def io(self, request: Awaitable[T]) -> T:
        if self.stalled:
            # Nothing more is asked of a server that stopped answering (cleanup fails fast instead of waiting).
            if isinstance(request, Coroutine):
                request.close()
            raise _Stalled(self.timeout)
        try:
            return await asyncio.wait_for(request, self.timeout)
        except TimeoutError:
            self.stalled = True
            self.conn.abort()
            raise _Stalled(self.timeout) from None


class _Stalled(Exception):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"no answer within {timeout:g} s")
        self.timeout = timeout


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
        timeouts: SftpTimeouts = SftpTimeouts(),
    ) -> None:
        super().__init__(name, jurisdiction)
        self.host = host
        self.port = port
        self.username = username
        self.root = root
        self.timeouts = timeouts
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
    async def _session(self, action_ja: str) -> AsyncIterator[_Session]:
        where = f"{self.host}:{self.port}"
        try:
            conn = await asyncssh.connect(
                self.host,
                self.port,
                username=self.username,
                known_hosts=self._known_hosts,
                client_keys=self._client_keys,
                password=self._password,
                agent_path=None,
                config=None,
                connect_timeout=self.timeouts.connect,
                keepalive_interval=self.timeouts.keepalive_interval,
                keepalive_count_max=self.timeouts.keepalive_count_max,
            )
            clean = False
            try:
                sftp = await asyncio.wait_for(conn.start_sftp_client(), self.timeouts.io)
                yield _Session(conn, sftp, self.timeouts.io)
                clean = True
            finally:
                # A failed session is cut at once; a clean one is closed politely, but never waited on for long.
                if clean:
                    conn.close()
                else:
                    conn.abort()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.wait_closed(), self.timeouts.io)
        except (_Stalled, TimeoutError) as exc:
            raise ConnectorError(
                f"{action_ja}できません：SFTP サーバー {where} が {self.timeouts.io:g} 秒以上応答しません"
                f"（通信が止まりました）。自動で再試行します。({_technical(exc)})",
                retryable=True,
            ) from exc
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
        except asyncssh.ConnectionLost as exc:
            raise ConnectorError(
                f"{action_ja}できません：SFTP サーバー {where} との接続が途中で切れました。({_technical(exc)})",
                retryable=True,
            ) from exc
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
        leftover: list[str] = []
        try:
            return await self._put(folder, name, source, leftover)
        except ConnectorError as exc:
            # The connection died (the server lives on): a new one removes the temp file now. After a stall a
            # new connection would most likely stall too; the next delivery to this folder cleans up instead.
            if leftover and not isinstance(exc.__cause__, _Stalled | TimeoutError):
                with contextlib.suppress(ConnectorError):
                    async with self._session("SFTP サーバー上の一時ファイルを削除") as session:
                        with contextlib.suppress(asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                            await session.io(session.sftp.remove(leftover[0]))
            raise

    async def _put(self, folder: str, name: str, source: Path, leftover: list[str]) -> StoredObject:
        """``put`` on one connection; a temp file it could not remove is appended to ``leftover``."""
        directory = self._remote_dir(folder)
        target = self._remote_path(folder, name)
        async with self._session("パッケージを SFTP サーバーに送信") as session:
            await self._remove_stale_parts(session, directory)
            existing = await self._stat(session, target)
            if existing is not None:
                size, digest = await asyncio.to_thread(sha256_file, source)
                if existing.size != size or await self._remote_sha256(session, target) != digest:
                    raise ConnectorError(
                        f"SFTP サーバーに同じ名前で内容の異なるファイルがあります：{target}。"
                        f"a different file already exists at {target}",
                        retryable=False,
                    )
                return self._stored(folder, name, size, digest)
            await session.io(session.sftp.makedirs(directory, exist_ok=True))
            temp = posixpath.join(directory, f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")
            renaming = False
            try:
                size, digest = await self._upload(session, source, temp)
                await self._check(session, temp, size, digest)
                renaming = True
                try:
                    await session.io(session.sftp.posix_rename(temp, target))
                except asyncssh.SFTPOpUnsupported:
                    await session.io(session.sftp.rename(temp, target))
            except BaseException as exc:
                try:
                    await session.io(session.sftp.remove(temp))
                except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                    pass  # never created, or already renamed
                except (asyncssh.Error, OSError, _Stalled):
                    leftover.append(temp)  # this connection is gone; ``put`` tries a new one
                if renaming and isinstance(exc, asyncssh.Error | OSError | _Stalled):
                    # The rename may have happened before its answer was lost.
                    raise ConnectorError(
                        "SFTP サーバーへの送信の最後（名前の変更）で接続が切れたため、"
                        f"保存されたか確認できません：{target}。自動で確認して再試行します。"
                        f"outcome unknown ({_technical(exc)})",
                        retryable=True,
                        may_be_stored=True,
                    ) from exc
                raise
        return self._stored(folder, name, size, digest)

    async def _remove_stale_parts(self, session: _Session, directory: str) -> None:
        """Remove temp files a failed upload left in ``directory`` (older than ``stale_part_age``); best effort."""
        cutoff = time.time() - self.timeouts.stale_part_age
        try:
            entries = await session.io(session.sftp.readdir(directory))
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return
        for entry in entries:
            name = entry.filename if isinstance(entry.filename, str) else entry.filename.decode(errors="replace")
            mtime = entry.attrs.mtime
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX) and mtime is not None and mtime < cutoff:
                with contextlib.suppress(asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                    await session.io(session.sftp.remove(posixpath.join(directory, name)))
                log.info("removed a stale temp file %s left by a failed upload", name)

    @staticmethod
    async def _upload(session: _Session, source: Path, remote: str) -> tuple[int, str]:
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
            remote_file = await session.io(session.sftp.open(remote, "wb"))
            try:
                while chunk := await asyncio.to_thread(read_chunk):
                    await session.io(remote_file.write(chunk, size))
                    size += len(chunk)
            finally:
                await session.io(remote_file.close())
        finally:
            await asyncio.to_thread(handle.close)
        return size, digest.hexdigest()

    @staticmethod
    async def _stat(session: _Session, path: str) -> asyncssh.SFTPAttrs | None:
        try:
            return await session.io(session.sftp.stat(path))
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None

    @staticmethod
    async def _remote_sha256(session: _Session, path: str) -> str:
        digest = hashlib.sha256()
        remote_file = await session.io(session.sftp.open(path, "rb"))
        try:
            # Opened in binary mode, so reads return bytes; asyncssh types them as AnyStr.
            while chunk := cast(bytes, await session.io(remote_file.read(_READ_CHUNK))):
                await asyncio.to_thread(digest.update, chunk)
        finally:
            await session.io(remote_file.close())
        return digest.hexdigest()

    async def _check(self, session: _Session, path: str, size: int, sha256: str) -> None:
        attrs = await self._stat(session, path)
        if attrs is None:
            raise VerificationError(f"SFTP サーバーにファイルがありません：{path}。missing")
        if attrs.size != size:
            raise VerificationError(
                f"SFTP サーバー上のファイルの大きさが一致しません：{path}。expected {size}, found {attrs.size}"
            )
        actual = await self._remote_sha256(session, path)
        if actual != sha256.lower():
            raise VerificationError(
                f"SFTP サーバー上のファイルの内容が一致しません：{path}。expected sha256 {sha256}, found {actual}"
            )

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        async with self._session("SFTP サーバー上のファイルを確認") as session:
            await self._check(session, self._remote_path(obj.folder, obj.name), size, sha256)

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        check_access_request(folder, people, role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        check_access_request(folder, people, None)

    async def delete(self, obj: StoredObject) -> None:
        path = self._remote_path(obj.folder, obj.name)
        async with self._session("SFTP サーバー上のファイルを削除") as session:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
                await session.io(session.sftp.remove(path))
            if await self._stat(session, path) is not None:
                raise ConnectorError(
                    f"SFTP サーバー上のファイルを削除できたことを確認できません：{path}。still present after remove",
                    retryable=True,
                )

    async def exists(self, obj: StoredObject) -> bool:
        async with self._session("SFTP サーバー上のファイルを確認") as session:
            return await self._stat(session, self._remote_path(obj.folder, obj.name)) is not None

    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        """The file under its final name only: a temp ``.part`` is never a delivery (the rename is the commit)."""
        path = self._remote_path(folder, name)
        async with self._session("SFTP サーバー上のファイルを確認") as session:
            attrs = await self._stat(session, path)
        if attrs is None:
            return None
        return StoredObject(connector=self.name, folder=folder, name=name, location=path, size=attrs.size or 0)

    async def health(self) -> HealthReport:
        try:
            async with self._session("SFTP サーバーの状態を確認") as session:
                if not await session.io(session.sftp.isdir(self.root)):
                    return HealthReport(
                        False, True, f"SFTP サーバーにフォルダ {self.root} がありません。root folder missing"
                    )
        except ConnectorError as exc:
            # A refused login or host key still means the server answered: it is reachable.
            return HealthReport(not exc.retryable, False, exc.reason_ja)
        return HealthReport(True, True, f"SFTP サーバー {self.host}:{self.port} に接続・認証できました。")
