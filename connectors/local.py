"""Local outbox folder connector: packages land in ``root/<folder>/<name>``.

Ward staff reach these folders through operating-system permissions (a file share or a group on the hub
machine), which the hub does not manage: ``grant``/``revoke`` only validate their arguments and record
nothing; who may open a folder is set by the administrator on the file system. ``metadata`` is not stored here;
the hub keeps it in its database.

Puts are atomic (temp file in the same folder, fsync, rename, fsync of the folder) so a reader never sees a
half-written package, and a retry after a crash either finds the finished file (same hash: returned as is)
or starts over. Two puts of one name are serialised by the hub's delivery queue (one lease per package), so
the existence check before the rename does not race with another writer of the same name.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

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
from connectors.options import ConnectorOptions
from ledger.files import atomic_writer, fsync_directory

CHUNK_SIZE = 1024 * 1024
TEMP_PREFIX = ".handover-"
TEMP_SUFFIX = ".part"
# Where an incident moves a package out of the served outbox: owner-only, so the group that reads the outbox
# (the contractor's share) cannot open it, while the hub keeps the file as evidence.
WITHDRAWN = ".revoked"
_NAME_MAX_BYTES = 255
_ROLES: frozenset[str] = frozenset({"viewer", "editor"})


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes | None: ...


def sha256_stream(handle: Readable) -> tuple[int, str]:
    """Size and SHA-256 of a stream, read in fixed chunks so memory stays flat for DVD-sized packages."""
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def sha256_file(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        return sha256_stream(handle)


def check_segment(segment: str, what: str) -> str:
    """Refuse a path segment that could escape the endpoint's root or confuse the file system."""
    if (
        not segment
        or segment in {".", ".."}
        or any(ch in segment for ch in "/\\\0")
        or segment.startswith(TEMP_PREFIX)
        or len(segment.encode("utf-8")) > _NAME_MAX_BYTES
    ):
        raise ConnectorError(
            f"{what}「{segment}」は使用できない名前です。invalid {what} segment {segment!r}", retryable=False
        )
    return segment


def folder_parts(folder: str) -> list[str]:
    """``a/b`` → ``["a", "b"]``, each part checked; a folder is never empty or absolute."""
    return [check_segment(part, "フォルダ名") for part in folder.split("/")]


def check_access_request(folder: str, people: Sequence[Grantee], role: AccessRole | None) -> None:
    """Shared validation for connectors whose access is managed outside the hub."""
    folder_parts(folder)
    if role is not None and role not in _ROLES:
        raise ConnectorError(f"権限「{role}」は不明です。unknown role {role!r}", retryable=False)
    for person in people:
        if not person.login.strip():
            raise ConnectorError(
                f"担当者 {person.person_id} のログイン名が空です。grantee {person.person_id!r} has no login",
                retryable=False,
            )


def os_error(exc: OSError, action_ja: str) -> ConnectorError:
    """Map an OS error to a staff-readable ConnectorError; only conditions that can clear up are retryable."""
    technical = f"{type(exc).__name__} [errno {exc.errno}]: {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ConnectorError(f"{action_ja}できません：出力先のディスクに空きがありません。{technical}", retryable=True)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ConnectorError(f"{action_ja}できません：書き込み権限がありません。{technical}", retryable=False)
    if exc.errno == errno.EFBIG:
        return ConnectorError(
            f"{action_ja}できません：出力先のファイルシステムでは大きすぎるファイルです。{technical}",
            retryable=False,
        )
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG):
        return ConnectorError(
            f"{action_ja}できません：出力先のフォルダ構成が正しくありません。{technical}", retryable=False
        )
    return ConnectorError(f"{action_ja}できません：入出力エラーです。{technical}", retryable=True)


def _makedirs_durable(root: Path, parts: Sequence[str]) -> None:
    """Create ``root/parts…``; each new directory entry is fsynced so a crash cannot lose the folder."""
    current = root
    for part in parts:
        child = current / part
        try:
            child.mkdir()
        except FileExistsError:
            pass
        else:
            fsync_directory(current)
        current = child


def _copy_with_hash(source: BinaryIO, target: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        target.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


class LocalOptions(ConnectorOptions):
    """``root``: the outbox folder, created by ``handover init``."""

    kind: Literal["local"] = "local"
    root: Path

    def build(self, name: str, jurisdiction: Jurisdiction) -> LocalConnector:
        return LocalConnector(name, jurisdiction, root=self.root)

    def local_folders(self) -> list[Path]:
        return [self.root]


class LocalConnector(Connector):
    kind = "local"

    def __init__(self, name: str, jurisdiction: Jurisdiction, *, root: Path | str, file_mode: int = 0o640) -> None:
        super().__init__(name, jurisdiction)
        self.root = Path(root)
        # Group-readable by default: ward staff read the outbox through a group on the share, not as the hub.
        self.file_mode = file_mode

    def path_of(self, folder: str, name: str) -> Path:
        return self.root.joinpath(*folder_parts(folder), check_segment(name, "ファイル名"))

    def _stored(self, folder: str, name: str, path: Path, size: int, sha256: str) -> StoredObject:
        return StoredObject(connector=self.name, folder=folder, name=name, location=str(path), size=size, sha256=sha256)

    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        target = self.path_of(folder, name)
        return await asyncio.to_thread(self._put_sync, folder, name, target, source)

    def _put_sync(self, folder: str, name: str, target: Path, source: Path) -> StoredObject:
        try:
            source_handle = source.open("rb")
        except OSError as exc:
            raise ConnectorError(
                f"送信元ファイルを開けません。cannot open source {source}: {exc}", retryable=False
            ) from exc
        with source_handle:
            if target.exists():
                return self._existing(folder, name, target, source)
            if not self.root.is_dir():
                raise ConnectorError(f"出力先フォルダ {self.root} がありません。outbox root missing", retryable=False)
            try:
                _makedirs_durable(self.root, folder_parts(folder))
            except OSError as exc:
                raise os_error(exc, "出力先フォルダを作成") from exc
            # Named after the target, so a retry after a crash reuses (truncates) the leftover of the last try
            # instead of littering the outbox; one delivery lease per package means no concurrent writer.
            temp_name = f"{TEMP_PREFIX}{hashlib.sha256(name.encode()).hexdigest()[:16]}{TEMP_SUFFIX}"
            try:
                with atomic_writer(target, mode=self.file_mode, temp_name=temp_name) as handle:
                    size, digest = _copy_with_hash(source_handle, handle)
                    handle.seek(0)
                    if sha256_stream(handle) != (size, digest):
                        raise VerificationError(
                            f"書き込んだファイルを読み直すと内容が異なります。read-back mismatch for {target}"
                        )
            except OSError as exc:
                error = os_error(exc, "パッケージを出力先に書き込み")
                # The rename may have happened before a later step (the folder's fsync) failed.
                error.may_be_stored = target.exists()
                raise error from exc
        return self._stored(folder, name, target, size, digest)

    def _existing(self, folder: str, name: str, target: Path, source: Path) -> StoredObject:
        size, digest = sha256_file(source)
        if sha256_file(target) != (size, digest):
            raise ConnectorError(
                f"出力先に同じ名前で内容の異なるファイルがあります：{target}。"
                f"a different file already exists at {target}",
                retryable=False,
            )
        return self._stored(folder, name, target, size, digest)

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        path = self.path_of(obj.folder, obj.name)
        try:
            actual_size, actual_digest = await asyncio.to_thread(sha256_file, path)
        except FileNotFoundError as exc:
            raise VerificationError(f"出力先にファイルがありません：{path}。missing") from exc
        except OSError as exc:
            raise os_error(exc, "出力先のファイルを確認") from exc
        if actual_size != size or actual_digest != sha256.lower():
            raise VerificationError(
                f"出力先のファイルが送信したものと一致しません：{path}。"
                f"expected size={size} sha256={sha256}, found size={actual_size} sha256={actual_digest}"
            )

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        check_access_request(folder, people, role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        check_access_request(folder, people, None)

    async def withdraw(self, folder: str, name: str) -> str | None:
        """Move ``folder/name`` out of reach into ``.revoked/folder/`` (0700 folders, 0600 file); returns the new
        folder, or None when nothing was there. Idempotent: a second call finds the file already moved."""
        source = self.path_of(folder, name)
        target_folder = f"{WITHDRAWN}/{folder}"
        target = self.path_of(target_folder, name)
        try:
            moved = await asyncio.to_thread(self._withdraw_sync, source, target, folder_parts(target_folder))
        except OSError as exc:
            raise os_error(exc, "出力先のファイルを取り下げ") from exc
        return target_folder if moved else None

    def _withdraw_sync(self, source: Path, target: Path, parts: Sequence[str]) -> bool:
        if not source.exists():
            return target.exists()
        current = self.root
        for part in parts:
            current = current / part
            current.mkdir(mode=0o700, exist_ok=True)
            current.chmod(0o700)
        source.chmod(0o600)
        source.rename(target)
        fsync_directory(source.parent)
        fsync_directory(target.parent)
        return True

    async def delete(self, obj: StoredObject) -> None:
        path = self.path_of(obj.folder, obj.name)
        await asyncio.to_thread(self._delete_sync, path)

    @staticmethod
    def _delete_sync(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
            if path.parent.is_dir():
                fsync_directory(path.parent)
        except OSError as exc:
            raise os_error(exc, "ファイルを削除") from exc

    async def exists(self, obj: StoredObject) -> bool:
        return await asyncio.to_thread(self.path_of(obj.folder, obj.name).exists)

    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        """The finished file only: a leftover temp file is never a delivery (the rename is the commit)."""
        path = self.path_of(folder, name)
        try:
            info = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise os_error(exc, "出力先のファイルを確認") from exc
        return StoredObject(connector=self.name, folder=folder, name=name, location=str(path), size=info.st_size)

    async def health(self) -> HealthReport:
        return await asyncio.to_thread(self._health_sync)

    def _health_sync(self) -> HealthReport:
        if not self.root.is_dir():
            return HealthReport(False, False, f"出力先フォルダ {self.root} がありません。outbox root missing")
        if not os.access(self.root, os.W_OK | os.X_OK):
            return HealthReport(True, False, f"出力先フォルダ {self.root} に書き込めません。not writable")
        return HealthReport(True, True, f"出力先フォルダ {self.root} は利用できます。")
