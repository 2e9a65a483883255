"""What staff see after a drop: result files beside it, the sealed quarantine, and the register lines.

Result files are written atomically (temp name, fsync, rename) so a crash never leaves half a message, and
every function here may run twice after a crash without harm. A result file is never replaced: a later attempt on
a file of the same name writes ``NAME.2.result.json`` and so on, so a success staff have read cannot turn into a
failure (and a rerun after a crash recognises its own file by the intake id).

Names staff see and the database stores are display names: a name that is not valid UTF-8 has its undecodable
bytes replaced (U+FFFD), control characters too; only the raw name kept in memory is used to move the file.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exchange.blobs.store import BlobError
from exchange.folders import RouteFolders
from exchange.intake.sealed_quarantine import QuarantineVault, remove_drop
from ledger.files import write_atomic
from ledger.models import IntakeFile, Package
from ledger.registers.handover import Category, RegisterEntry, RegisterKind

log = logging.getLogger(__name__)


def display_name(name: str) -> str:
    """``name`` as it can be shown and stored: undecodable bytes and control characters become U+FFFD."""
    decoded = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("\ufffd" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in decoded)


def _result_paths(folder: Path, file_name: str, version: int) -> tuple[Path, Path]:
    stem = file_name if version == 1 else f"{file_name}.{version}"
    return folder / f"{stem}.result.json", folder / f"{stem}.result.txt"


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: someone else's, never ours to replace
    return loaded if isinstance(loaded, dict) else {}


def _write_result(folder: Path, file_name: str, document: dict[str, Any], text: str) -> Path:
    """Write the pair under the first free version; the JSON file, created exclusively, claims the version."""
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    for version in itertools.count(1):
        json_path, text_path = _result_paths(folder, file_name, version)
        existing = _read_result(json_path)
        if existing is not None:
            # Ours: the same intake (or, for a drop set aside before it had one, the same refusal) after a crash.
            same = ("status", "intake_id") if document.get("intake_id") is not None else ("status", "reason", "file")
            if all(existing.get(key) == document.get(key) for key in same):
                write_atomic(text_path, text)  # a rerun after a crash: finish our own pair
                return json_path
            continue
        try:
            write_atomic(json_path, body, exclusive=True)
        except FileExistsError:
            continue  # another attempt claimed this version first
        write_atomic(text_path, text)
        return json_path
    raise AssertionError("unreachable")


def write_delivered_result(intake: IntakeFile, folders: RouteFolders, packages: Sequence[Package]) -> None:
    folder = Path(intake.source_path).parent if intake.manual else folders.watch
    document = {
        "status": "delivered",
        "file": intake.file_name,
        "intake_id": intake.public_id,
        "sha256": intake.sha256,
        "packages": [
            {
                "package_id": p.public_id,
                "contract": p.contract.name,
                "delivered_via": p.delivered_via,
                "fallback_used": p.delivered_via != p.connector,
                "zip_name": p.zip_name,
                "records": p.content.get("files", [{}])[0].get("records"),
            }
            for p in packages
        ],
    }
    lines = [f"【提供完了】{intake.file_name}", ""]
    for p in packages:
        lines.append(f"・{p.contract.name}")
        lines.append(f"　パッケージID: {p.public_id}（経路: {p.delivered_via}）")
        if p.delivered_via != p.connector:
            lines.append(
                f"　※ 主経路（{p.connector}）で提供できなかったため、代替経路（{p.delivered_via}）に切り替えました。"
                "媒体の作成と受け渡しを行ってください。"
            )
    lines += [
        "",
        "パスワードはデータとは別の機会・別の経路で指定された取扱者に通知されます。",
        "元のファイルは受渡しフォルダから削除しました。",
    ]
    _write_result(folder, intake.file_name, document, "\n".join(lines) + "\n")


def failed_reason(packages: Sequence[Package]) -> str:
    """Why the intake waits for staff, in one line per package."""
    lines = [f"{p.contract.name}：{p.last_error}" for p in packages]
    return "提供できませんでした（再試行しても解決しない誤りです）。担当者の確認が必要です。" + "／".join(lines)


def write_failed_result(intake: IntakeFile, folders: RouteFolders, packages: Sequence[Package]) -> None:
    """Tell staff beside the drop that these packages failed for good; the original stays until they act."""
    folder = Path(intake.source_path).parent if intake.manual else folders.watch
    document = {
        "status": "delivery_failed",
        "file": intake.file_name,
        "intake_id": intake.public_id,
        "packages": [
            {"package_id": p.public_id, "contract": p.contract.name, "reason": p.last_error} for p in packages
        ],
    }
    lines = [f"【提供できませんでした・担当者の確認が必要です】{intake.file_name}", ""]
    for p in packages:
        lines.append(f"・{p.contract.name}（パッケージID: {p.public_id}）")
        lines.append(f"　理由: {p.last_error}")
    lines += [
        "",
        "この誤りは自動の再試行では解決しないため、再試行を止めました。",
        "原因（接続先の設定・権限・同名ファイルなど）を確認し、職員画面の「再送」で配送をやり直してください。",
        "元のファイルは受渡しフォルダに残しています。",
    ]
    _write_result(folder, intake.file_name, document, "\n".join(lines) + "\n")


def _same_drop(source: Path, identity: str | None) -> bool:
    """Whether ``source`` is still the file queued (a new drop under the same name is left for its own intake)."""
    if identity is None:
        return True
    try:
        info = source.lstat()
    except FileNotFoundError:
        return False
    device, inode = identity.split(":")[:2]
    return (str(info.st_dev), str(info.st_ino)) == (device, inode)


def remove_original(intake: IntakeFile, folders: RouteFolders) -> None:
    """Delete the plaintext original, or move it to the route's processed folder; absent already is fine."""
    if intake.manual or intake.released_from_id is not None:
        return  # the operator's own file, or a released drop (whose sealed file the pipeline erases)
    source = Path(intake.source_path)
    marker = source.with_name(source.name + ".done")
    if not _same_drop(source, intake.source_identity):
        marker.unlink(missing_ok=True)
        return
    if folders.processed is not None:
        target_dir = folders.processed
        target_dir.mkdir(parents=True, exist_ok=True)
        if source.exists():
            shutil.move(source, target_dir / f"{intake.public_id[:8]}_{source.name}")
    else:
        source.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)


async def move_to_quarantine(
    intake: IntakeFile, folders: RouteFolders, reason_ja: str, vault: QuarantineVault | None, sealed: str | None
) -> str | None:
    """Take a refused drop out of the watched folder, sealed; returns the sealed blob's key, None if none was made.

    ``sealed`` is the drop's private copy already sealed by the intake (the usual case): the original is only
    removed. A drop refused before it was taken in is sealed here (``set_aside``). A released drop's content is
    already in the hub (sealed): nothing in the watched folder is its own.
    """
    if intake.manual:
        return None  # the operator's own file is left alone; the reason is shown on the command line
    source = Path(intake.source_path)
    if intake.released_from_id is not None:
        await asyncio.to_thread(
            _write_quarantined, folders.watch, intake.file_name, intake.public_id, reason_ja, sealed, None
        )
        return sealed
    if sealed is not None:
        await asyncio.to_thread(_sealed_copy_kept, intake, source, reason_ja, sealed)
        return sealed
    if not await asyncio.to_thread(_still_queued, source, intake.source_identity):
        return None
    return await set_aside(
        folders, source, intake.file_name, intake.public_id, reason_ja, vault=vault, identity=intake.source_identity
    )


def _sealed_copy_kept(intake: IntakeFile, source: Path, reason_ja: str, sealed: str) -> None:
    remove_drop(source, intake.source_identity)
    source.with_name(source.name + ".done").unlink(missing_ok=True)
    _write_quarantined(source.parent, intake.file_name, intake.public_id, reason_ja, sealed, None)


def _still_queued(source: Path, identity: str | None) -> bool:
    if not _same_drop(source, identity) and not source.is_symlink():
        # The queued drop is gone (or replaced by a new one, which gets its own intake): nothing to move, and a
        # result file now would only contradict what staff were told about the drop.
        source.with_name(source.name + ".done").unlink(missing_ok=True)
        return False
    return True


async def set_aside(
    folders: RouteFolders,
    source: Path,
    shown_name: str,
    intake_id: str | None,
    reason_ja: str,
    *,
    vault: QuarantineVault | None = None,
    identity: str | None = None,
) -> str | None:
    """Seal a refused drop into ``vault`` (read once from a descriptor opened here, never through a link) and
    remove it from the watched folder; returns the sealed blob's key.

    What cannot be sealed (a link or a folder, a drop with no intake row to file it under, or a failure while
    sealing) is moved to the route's quarantine folder as before, or, if even that fails, left where it is with
    a reason file: never lost. ``source`` may carry an undecodable name; everything written uses ``shown_name``.
    """
    sealed: str | None = None
    if vault is not None and intake_id is not None:
        try:
            sealed = await vault.seal_drop(source, intake_id, identity)
        except (OSError, BlobError) as exc:
            log.warning("a refused file could not be sealed (%s); it is set aside as it is", type(exc).__name__)
    if sealed is not None:
        await asyncio.to_thread(_sealed_aside, source, shown_name, intake_id, reason_ja, sealed)
        return sealed
    await asyncio.to_thread(_move_aside, folders, source, shown_name, intake_id, reason_ja)
    return None


def _sealed_aside(source: Path, shown_name: str, intake_id: str | None, reason_ja: str, sealed: str) -> None:
    source.with_name(source.name + ".done").unlink(missing_ok=True)
    _write_quarantined(source.parent, shown_name, intake_id, reason_ja, sealed, None)


def _move_aside(folders: RouteFolders, source: Path, shown_name: str, intake_id: str | None, reason_ja: str) -> None:
    quarantine = folders.quarantine
    tag = (intake_id or os.urandom(4).hex())[:8]
    target: Path | None = quarantine / f"{tag}_{shown_name}"
    try:
        quarantine.mkdir(parents=True, exist_ok=True)
        if source.exists() or source.is_symlink():
            shutil.move(source, quarantine / f"{tag}_{shown_name}")
        write_atomic(quarantine / f"{tag}_{shown_name}.reason.txt", f"{reason_ja}\n")
    except OSError as exc:
        log.warning("a refused file could not be moved to quarantine (%s); left with a reason file", type(exc).__name__)
        target = None
        write_atomic(source.parent / f"{shown_name}.reason.txt", f"{reason_ja}\n")
    source.with_name(source.name + ".done").unlink(missing_ok=True)
    _write_quarantined(source.parent, shown_name, intake_id, reason_ja, None, target)


def _write_quarantined(
    folder: Path, shown_name: str, intake_id: str | None, reason_ja: str, sealed: str | None, moved: Path | None
) -> None:
    """The result pair beside the drop: set aside, and why. It names no path inside the hub and holds no data."""
    document = {
        "status": "quarantined",
        "file": shown_name,
        "intake_id": intake_id,
        "reason": reason_ja,
        "sealed": sealed is not None,
        "quarantined_as": str(moved) if moved is not None else None,
    }
    if sealed is not None:
        where = (
            f"ファイルは暗号化して隔離し、受渡しフォルダから削除しました（受付ID: {intake_id}）。\n"
            "原因を直したうえで、職員画面の「隔離されたファイル」または handover quarantine コマンドから、"
            "再受付・取出し・破棄ができます。"
        )
    elif moved is not None:
        where = f"ファイルは隔離フォルダに移しました: {moved}"
    else:
        where = "ファイルは移動できなかったため、そのままにしています。"
    text = f"【受付できませんでした】{shown_name}\n\n理由: {reason_ja}\n\n{where}\n"
    _write_result(folder, shown_name, document, text)


def delivered_entry(package: Package, channel: str) -> RegisterEntry:
    return RegisterEntry(
        kind=RegisterKind.PACKAGE_DELIVERED,
        category=Category.PROVIDED,
        content=f"暗号化パッケージ {package.zip_name}",
        contract_id=package.contract.public_id,
        package_id=package.public_id,
        handler_from="system",
        quantity={"files": 1, "bytes": package.size, **_records(package)},
        channel=channel,
        details={"zip_sha256": package.sha256, "fallback": channel != package.connector},
    )


def fallback_entry(package: Package, failed_channel: str) -> RegisterEntry:
    fallback = package.route_target.fallback_connector if package.route_target else None
    return RegisterEntry(
        kind=RegisterKind.PACKAGE_FALLBACK,
        category=Category.ADMIN,
        content=f"経路「{failed_channel}」での提供に失敗したため、代替経路「{fallback}」に切り替えます",
        contract_id=package.contract.public_id,
        package_id=package.public_id,
        channel=fallback,
        details={"failed_channel": failed_channel, "last_error": package.last_error},
    )


def failed_entry(package: Package, channel: str, reason_ja: str) -> RegisterEntry:
    return RegisterEntry(
        kind=RegisterKind.PACKAGE_DELIVERY_FAILED,
        category=Category.ADMIN,
        content=f"経路「{channel}」での提供に失敗しました（再試行では解決しないため担当者の確認待ち）：{reason_ja}",
        contract_id=package.contract.public_id,
        package_id=package.public_id,
        channel=channel,
        details={"reason": reason_ja, "attempts": package.attempts},
    )


def finished_entry(intake: IntakeFile, packages: Sequence[Package]) -> RegisterEntry:
    return RegisterEntry(
        kind=RegisterKind.INTAKE_FINISHED,
        category=Category.ADMIN,
        content=f"{intake.file_name} の提供処理を完了し、元ファイルを受渡しフォルダから除去しました",
        handler_from="system",
        quantity={"packages": len(packages)},
        details={"intake_id": intake.public_id, "source_sha256": intake.sha256},
    )


def quarantined_entry(intake: IntakeFile, contract_ids: Sequence[str], code: str, reason_ja: str) -> RegisterEntry:
    return RegisterEntry(
        kind=RegisterKind.INTAKE_QUARANTINED,
        category=Category.REFUSED,
        content=f"{intake.file_name} を受け付けず隔離しました",
        contract_id=contract_ids[0] if len(contract_ids) == 1 else None,
        handler_from="system",
        details={"intake_id": intake.public_id, "code": code, "reason": reason_ja, "contracts": list(contract_ids)},
    )


def _records(package: Package) -> dict[str, int]:
    files = package.content.get("files", [])
    records = files[0].get("records") if files else None
    return {"records": int(records)} if records is not None else {}
