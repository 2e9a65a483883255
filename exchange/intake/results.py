"""What staff see after a drop: result files beside it, the quarantine folder, and the register lines.

Result files are written atomically (temp name, fsync, rename) so a crash never leaves half a message, and
every function here may run twice after a crash without harm.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from ledger.files import write_atomic
from ledger.models import IntakeFile, Package, Route
from ledger.registers.handover import Category, RegisterEntry, RegisterKind


def _result_paths(folder: Path, file_name: str) -> tuple[Path, Path]:
    return folder / f"{file_name}.result.json", folder / f"{file_name}.result.txt"


def write_delivered_result(intake: IntakeFile, route: Route, packages: Sequence[Package]) -> None:
    folder = Path(intake.source_path).parent if intake.manual else Path(route.watch_dir)
    json_path, text_path = _result_paths(folder, intake.file_name)
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
    write_atomic(json_path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    write_atomic(text_path, "\n".join(lines) + "\n")


def remove_original(intake: IntakeFile, route: Route) -> None:
    """Delete the plaintext original, or move it to the route's processed folder; absent already is fine."""
    if intake.manual:
        return
    source = Path(intake.source_path)
    marker = source.with_name(source.name + ".done")
    if route.processed_dir:
        target_dir = Path(route.processed_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        if source.exists():
            shutil.move(source, target_dir / f"{intake.public_id[:8]}_{source.name}")
    else:
        source.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)


def move_to_quarantine(intake: IntakeFile, route: Route, reason_ja: str) -> None:
    if intake.manual:
        return  # the operator's own file is left alone; the reason is shown on the command line
    source = Path(intake.source_path)
    quarantine = Path(route.quarantine_dir)
    quarantine.mkdir(parents=True, exist_ok=True)
    target = quarantine / f"{intake.public_id[:8]}_{source.name}"
    if source.exists() or source.is_symlink():
        shutil.move(source, target)
    source.with_name(source.name + ".done").unlink(missing_ok=True)
    write_atomic(quarantine / f"{target.name}.reason.txt", f"{reason_ja}\n")
    json_path, text_path = _result_paths(source.parent, intake.file_name)
    document = {
        "status": "quarantined",
        "file": intake.file_name,
        "intake_id": intake.public_id,
        "reason": reason_ja,
        "quarantined_as": str(target),
    }
    write_atomic(json_path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    write_atomic(
        text_path,
        f"【受付できませんでした】{intake.file_name}\n\n理由: {reason_ja}\n\n"
        f"ファイルは隔離フォルダに移しました: {target}\n",
    )


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
