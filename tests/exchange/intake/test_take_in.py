"""Issue 12: the dropped file is taken in once (no swap race, no links) and unparsable files are quarantined once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from exchange.hub import HubServices
from exchange.intake import preparation
from exchange.intake.antivirus import ClamdScanner
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.preparation import Preparer
from exchange.intake.service import IntakeService
from exchange.keys.sealing import SealedSecret, unseal
from ledger.models import IntakeStatus, Package
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, packages, process, route_dir, seven_zip_extract
from tests.services.clamd import EICAR, Clamd

S1 = "seikatsu-hogo-tsuika"


def password_of(hub: HubServices, package: Package) -> str:
    assert package.sealed_password is not None
    return unseal(hub.keyring, SealedSecret.from_bytes(package.sealed_password), package.public_id.encode()).decode()


async def quarantined(hub: HubServices, name: str) -> str:
    [intake] = [i for i in await intakes(hub) if i.file_name == name]
    assert intake.status == IntakeStatus.QUARANTINED, (intake.status, intake.reason_ja)
    assert intake.attempts <= 1
    assert intake.reason_ja
    return intake.reason_ja


def swap_on_open(monkeypatch: pytest.MonkeyPatch, target: Path, swap: Path) -> None:
    """Right before the hub's open of ``target``, rename ``swap`` (a link or another file) over it."""
    real_open = os.open

    def racing_open(path: os.PathLike[str] | str, flags: int, *args: int) -> int:
        if Path(path) == target and os.path.lexists(swap):
            os.rename(swap, target)
        return real_open(path, flags, *args)

    monkeypatch.setattr(preparation.os, "open", racing_open)


async def test_symlink_swapped_in_after_queueing_never_delivers_the_secret(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"root:$6$hash:secret\n")
    dropped = folder / "支給対象.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, dropped, encoding="cp932")
    link = folder / ".swap"
    link.symlink_to(secret)
    swap_on_open(monkeypatch, dropped, link)
    await process(hub)
    assert "シンボリックリンク" in await quarantined(hub, "支給対象.csv")
    assert await packages(hub) == []
    assert secret.read_bytes() == b"root:$6$hash:secret\n"


async def test_another_file_renamed_over_the_queued_drop_is_refused(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    dropped = folder / "支給対象.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, dropped, encoding="cp932")
    other = folder / ".other"
    await asyncio.to_thread(write_dummy_csv, S1, 5, other, encoding="cp932")  # a valid file, but not the one queued
    swap_on_open(monkeypatch, dropped, other)
    await process(hub)
    assert "差し替え" in await quarantined(hub, "支給対象.csv")
    assert await packages(hub) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_symlink_swap_race_fifty_times(hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"secret\n")
    original = tmp_path / "original.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 2, original, encoding="cp932")
    real_open = os.open
    for attempt in range(50):
        dropped = folder / f"f{attempt}.csv"
        dropped.write_bytes(original.read_bytes())
        link = folder / f".swap{attempt}"
        link.symlink_to(secret)

        def racing_open(
            path: os.PathLike[str] | str, flags: int, *args: int, _d: Path = dropped, _l: Path = link
        ) -> int:
            fd = real_open(path, flags, *args)
            if Path(path) == _d and os.path.lexists(_l):
                os.rename(_l, _d)  # right after the hub's open: the descriptor must still hold the original
            return fd

        monkeypatch.setattr(preparation.os, "open", racing_open)
        await process(hub)
    leaked = 0
    for package in await packages(hub):
        out = tmp_path / "x" / package.public_id
        delivered = tmp_path / "outbox" / "s1-main" / package.zip_name
        assert seven_zip_extract(delivered, password_of(hub, package), out).returncode == 0
        [data] = [p for p in out.iterdir() if p.suffix == ".csv"]
        body = data.read_bytes()
        leaked += body != original.read_bytes()
        assert package.content["source_sha256"] == hashlib.sha256(body).hexdigest()
    assert leaked == 0


async def test_hard_link_to_a_file_elsewhere_is_quarantined(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, elsewhere, encoding="cp932")
    os.link(elsewhere, folder / "リンク.csv")
    await process(hub)
    assert "ハードリンク" in await quarantined(hub, "リンク.csv")
    assert await packages(hub) == []
    assert elsewhere.exists()


async def test_dropped_symlink_is_refused_and_target_untouched(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "master.key"
    secret.write_bytes(b"key-material")
    (folder / "鍵.csv").symlink_to(secret)
    await process(hub)
    assert await packages(hub) == []
    assert secret.read_bytes() == b"key-material"
    refused = [i for i in await intakes(hub) if i.file_name == "鍵.csv"]
    assert all(i.status == IntakeStatus.QUARANTINED for i in refused)


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&xxe;</t></si></sst>'
)


def _huge_cell() -> bytes:
    return (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
        b'<c r="A1" t="inlineStr"><is><t>'
        + os.urandom(1_500_000).hex().encode()
        + b"</t></is></c></row></sheetData></worksheet>"
    )


def _valid_with(tmp_path: Path, path: Path, member: str, data: bytes) -> None:
    """A real workbook with the S1 header, one member replaced by hostile XML."""
    import csv

    import openpyxl

    csv_path = tmp_path / "rows.csv"
    write_dummy_csv(S1, 2, csv_path, encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    with csv_path.open(encoding="utf-8") as rows:
        for row in csv.reader(rows):
            sheet.append(row)
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, data if info.filename == member else source.read(info))
        if member not in source.namelist():
            target.writestr(member, data)


def _truncated(path: Path, source: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in range(2000):
        sheet.append([f"{row}-{col}-{os.urandom(4).hex()}" for col in range(5)])
    book.save(source)
    data = source.read_bytes()
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    path.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])  # corrupt inside: central directory intact


@pytest.mark.parametrize("kind", ["truncated", "bomb", "xxe", "huge_cell"])
async def test_unparsable_xlsx_is_quarantined_on_the_first_attempt(hub: HubServices, tmp_path: Path, kind: str) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / f"{kind}.xlsx"
    if kind == "truncated":
        await asyncio.to_thread(_truncated, bad, tmp_path / "good.xlsx")
    else:
        replaced = {"bomb": ("xl/sharedStrings.xml", BOMB), "xxe": ("xl/sharedStrings.xml", XXE)}
        member, data = replaced.get(kind) or ("xl/worksheets/sheet1.xml", _huge_cell())
        await asyncio.to_thread(_valid_with, tmp_path, bad, member, data)
    good = folder / "次のファイル.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 2, good, encoding="cp932")
    await process(hub)
    reason = await quarantined(hub, bad.name)
    assert "Excel" in reason
    outcome = json.loads((folder / f"{bad.name}.result.json").read_text(encoding="utf-8"))
    assert outcome["sealed"] and outcome["reason"] == reason
    assert not bad.exists(), "sealed from the private copy, then removed from the watched folder"
    assert len(await packages(hub)) == 1, "the loop went on with the next file"


async def test_eicar_swapped_in_after_the_scan_is_never_delivered(
    hub: HubServices, clamd: Clamd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    dropped = folder / "支給対象.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, dropped, encoding="cp932")
    original = dropped.read_bytes()
    evil = folder / ".evil"
    evil.write_bytes(EICAR)
    scanner = ClamdScanner(clamd.socket, timeout=10)
    real_scan = scanner.scan

    async def scan_then_swap(path: Path) -> str | None:
        found = await real_scan(path)
        if os.path.lexists(evil):
            await asyncio.to_thread(
                os.rename, evil, dropped
            )  # the scanner saw the clean file; the path now holds EICAR
        return found

    monkeypatch.setattr(scanner, "scan", scan_then_swap)
    preparer = Preparer(hub.connectors, hub.keyring, hub.pipeline.preparer.plugins, scanner=scanner)
    config = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(0))
    pipeline = Pipeline(hub.sessions, hub.connectors, preparer, config, blobs=hub.blobs)
    await IntakeService(hub.sessions, pipeline, hub.settings.intake).scan_once()
    await pipeline.drain()
    delivered_packages = await packages(hub)
    assert len(delivered_packages) == 1, "the scanned (clean) bytes are the ones delivered"
    for package in delivered_packages:
        out = tmp_path / "x" / package.public_id
        delivered = tmp_path / "outbox" / "s1-main" / package.zip_name
        assert seven_zip_extract(delivered, password_of(hub, package), out).returncode == 0
        body = (out / "支給対象.csv").read_bytes()
        assert EICAR not in body
        assert body == original
        assert package.content["source_sha256"] == hashlib.sha256(body).hexdigest()
