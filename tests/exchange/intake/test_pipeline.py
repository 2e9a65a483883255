"""A dropped file's whole path through a real hub: intake, checks, minimisation, packing, delivery, results."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from exchange.hub import HubServices
from exchange.keys.sealing import SealedSecret, unseal
from ledger.models import IntakeStatus, Package, PackageStatus
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, ledger_kinds, packages, process, route_dir, seven_zip_extract

S1 = "seikatsu-hogo-tsuika"


def password_of(hub: HubServices, package: Package) -> str:
    assert package.sealed_password is not None
    return unseal(hub.keyring, SealedSecret.from_bytes(package.sealed_password), package.public_id.encode()).decode()


async def test_printer_gets_the_file_without_the_account_column(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-printer")
    folder.mkdir(parents=True, exist_ok=True)
    dropped = folder / "対象者一覧.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 20, dropped, encoding="cp932")
    await process(hub)

    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED, package.last_error
    delivered = tmp_path / "outbox" / "s1-print" / package.zip_name
    assert delivered.exists()
    extracted = tmp_path / "extracted"
    result = seven_zip_extract(delivered, password_of(hub, package), extracted)
    assert result.returncode == 0, result.stdout + result.stderr
    header = (extracted / "対象者一覧.csv").read_bytes().decode("cp932").splitlines()[0]
    assert "振込先口座情報" not in header
    assert header.startswith("郵便番号,住所,氏名")
    manifest = json.loads((extracted / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["package_id"] == package.public_id
    assert manifest["files"][0]["record_count"] == 20

    assert not dropped.exists()
    outcome = json.loads((folder / "対象者一覧.csv.result.json").read_text(encoding="utf-8"))
    assert outcome["status"] == "delivered"
    assert outcome["packages"][0]["package_id"] == package.public_id
    assert "提供完了" in (folder / "対象者一覧.csv.result.txt").read_text(encoding="utf-8")
    assert await ledger_kinds(hub) == ["package.sealed", "package.delivered", "intake.finished"]


async def test_contractor_gets_a_byte_identical_file(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    original = tmp_path / "original.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 50, original, encoding="cp932")
    (folder / "支給対象.csv").write_bytes(original.read_bytes())
    await process(hub)

    [package] = await packages(hub)
    extracted = tmp_path / "x"
    result = seven_zip_extract(tmp_path / "outbox" / "s1-main" / package.zip_name, password_of(hub, package), extracted)
    assert result.returncode == 0
    assert (extracted / "支給対象.csv").read_bytes() == original.read_bytes()
    wrong = seven_zip_extract(tmp_path / "outbox" / "s1-main" / package.zip_name, "wrong-password", tmp_path / "w")
    assert wrong.returncode != 0


async def quarantined_reason(hub: HubServices, folder: Path, name: str) -> str:
    [intake] = [i for i in await intakes(hub) if i.file_name == name]
    assert intake.status == IntakeStatus.QUARANTINED
    outcome = json.loads((folder / f"{name}.result.json").read_text(encoding="utf-8"))
    assert outcome["status"] == "quarantined" and outcome["reason"] == intake.reason_ja
    assert intake.reason_ja
    if outcome["sealed"]:
        # Kept sealed in the blob store, gone from the watched folder.
        assert intake.sealed_key == f"quarantine/{intake.public_id}"
        assert await hub.blobs.size(intake.sealed_key) is not None, "a refused file is kept, not lost"
        assert not (folder / name).exists()
        return intake.reason_ja
    quarantined = Path(outcome["quarantined_as"])  # what cannot be sealed (a folder) is set aside as it is
    assert quarantined.exists(), "a refused file is kept, not lost"
    assert Path(f"{quarantined}.reason.txt").read_text(encoding="utf-8").strip() == intake.reason_ja
    return intake.reason_ja


async def test_forbidden_column_is_quarantined_with_a_reason(hub: HubServices) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "宗教あり.csv").write_text("郵便番号,住所,氏名,宗教\n000-0001,見本区,見本 太郎,無\n", encoding="cp932")
    await process(hub)
    reason = await quarantined_reason(hub, folder, "宗教あり.csv")
    assert "宗教" in reason
    assert await packages(hub) == []
    assert (await ledger_kinds(hub)) == ["intake.quarantined"]


async def test_zero_byte_folder_and_broken_bytes_are_refused(hub: HubServices) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "空.csv").write_bytes(b"")
    (folder / "フォルダ").mkdir()
    (folder / "壊れ.csv").write_bytes("郵便番号,住所\n".encode("cp932") + b"\x81\x20\xff\xfe\n")
    await process(hub)
    assert "空" in await quarantined_reason(hub, folder, "空.csv")
    assert "フォルダ" in await quarantined_reason(hub, folder, "フォルダ")
    sealed = {i.file_name for i in await intakes(hub) if i.sealed_key is not None}
    assert sealed == {"空.csv", "壊れ.csv"}, "every regular file is sealed; only the folder is set aside as it is"
    assert await quarantined_reason(hub, folder, "壊れ.csv")
    assert await packages(hub) == []


async def test_expired_contract_refuses_new_files(hub: HubServices) -> None:
    folder = await route_dir(hub, "s4-applicants")  # the S4 contract ended on 2026-10-31
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "申請者.csv").write_text("申請受付番号,氏名\n1,見本 花子\n", encoding="utf-8")
    await process(hub)
    assert "契約期間外" in await quarantined_reason(hub, folder, "申請者.csv")


async def test_temp_and_hidden_files_wait_and_done_marker_counts(hub: HubServices) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, S1, 5, folder / "途中.csv.part", encoding="cp932")
    (folder / ".hidden.csv").write_text("x", encoding="utf-8")
    await process(hub)
    assert await intakes(hub) == []
    os.rename(folder / "途中.csv.part", folder / "途中.csv")
    await process(hub)
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED]


async def test_the_same_file_dropped_twice_makes_two_packages(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "same.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, source, encoding="cp932")
    for _ in range(2):
        (folder / "同じ.csv").write_bytes(source.read_bytes())
        await process(hub)
    first, second = await packages(hub)
    assert first.public_id != second.public_id
    assert first.content["source_sha256"] == second.content["source_sha256"]
    assert password_of(hub, first) != password_of(hub, second)
