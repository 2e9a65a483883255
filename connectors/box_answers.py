"""Box's answers read as the connector's own: remote file records, name conflicts and Japanese errors.

Kept apart from ``connectors.box`` so that the connector reads as the steps of a delivery; these functions only
interpret what the SDK returns (or raises) and hash local files the way Box checks them (SHA-1, with our SHA-256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from box_sdk_gen import BoxAPIError, FileFull

from connectors.base import ConnectorError

HASH_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    id: str
    name: str
    size: int
    sha1: str
    active: bool


def hash_file(path: Path) -> tuple[int, str, str]:
    sha1 = hashlib.sha1(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK):
            sha1.update(block)
            sha256.update(block)
            size += len(block)
    return size, sha1.hexdigest(), sha256.hexdigest()


def remote_file(file: FileFull) -> RemoteFile:
    if file.size is None or file.sha_1 is None:
        raise ConnectorError("Boxがファイルの大きさまたはSHA-1を返しませんでした。", retryable=True)
    active = file.item_status is None or file.item_status.value == "active"
    return RemoteFile(id=file.id, name=file.name or "", size=file.size, sha1=file.sha_1, active=active)


def name_conflict(exc: BoxAPIError) -> Mapping[str, Any] | None:
    """The item named in a 409 ``item_name_in_use``; Box sends ``conflicts`` as a list or a single object."""
    if exc.response_info.status_code != 409 or exc.response_info.code != "item_name_in_use":
        return None
    conflicts = (exc.response_info.context_info or {}).get("conflicts")
    if isinstance(conflicts, list):
        conflicts = conflicts[0] if conflicts else None
    if isinstance(conflicts, dict) and "id" in conflicts:
        return conflicts
    return None


def ignore_404(func: Callable[[str], None], item_id: str) -> None:
    try:
        func(item_id)
    except BoxAPIError as exc:
        if exc.response_info.status_code != 404:
            raise


NETWORK_JA = "Boxに接続できないか、通信が途中で切れました（ネットワークの障害）。時間をおいて自動で再試行します。"


def api_error(exc: BoxAPIError) -> ConnectorError:
    """Box's answer in words that say what happened; only conditions that can clear up are retryable.

    The status decides, not the endpoint: a 500 from the token endpoint is Box failing, not our credentials.
    """
    info = exc.response_info
    status = info.status_code
    suffix = f"（HTTP {status}、コード {info.code or '-'}、要求ID {info.request_id or '-'}）"
    if status == 429:
        return ConnectorError(
            "Boxの利用制限（短時間の要求が多すぎます）により処理できませんでした。時間をおいて自動で再試行します。"
            + suffix,
            retryable=True,
        )
    if status >= 500:
        return ConnectorError(
            "Box側で一時的な障害が起きています（サーバーエラー）。時間をおいて自動で再試行します。" + suffix,
            retryable=True,
        )
    if status == 202:
        return ConnectorError(
            "Boxがまだ処理を終えていません。時間をおいて自動で再試行します。" + suffix, retryable=True
        )
    if status == 401 or exc.request_info.url.endswith("/oauth2/token"):
        return ConnectorError(
            "Boxの認証に失敗しました。クライアントID・シークレットとアプリの承認状態を確認してください。" + suffix,
            retryable=False,
        )
    if status == 403:
        return ConnectorError(
            "Boxでこの操作の権限がありません。アプリのアクセス範囲とフォルダの共同作業者設定を確認してください。"
            + suffix,
            retryable=False,
        )
    if status == 404:
        return ConnectorError("Box上に対象のフォルダまたはファイルが見つかりません。" + suffix, retryable=False)
    if status == 409:
        return ConnectorError("Box上で同じ名前の項目と競合しました。" + suffix, retryable=False)
    return ConnectorError("Boxが要求を受け付けませんでした。" + suffix, retryable=False)


def may_have_landed(failure: BaseException) -> bool:
    """Whether an upload that failed this way may still have been stored: anything but a plain refusal."""
    if isinstance(failure, ConnectorError):
        return failure.retryable
    if isinstance(failure, BoxAPIError):
        # A retried POST answered 409 (name in use) or a repeated commit 404 (session gone) point to a stored file.
        return failure.response_info.status_code not in (400, 401, 403)
    return True  # a network error or a mismatched part: the request may have been handled


def outcome_unknown(name: str) -> ConnectorError:
    return ConnectorError(
        f"Boxへの「{name}」のアップロードの応答が得られず、保存されたか確認できません。"
        "自動で確認してから再試行します。",
        retryable=True,
        may_be_stored=True,
    )
