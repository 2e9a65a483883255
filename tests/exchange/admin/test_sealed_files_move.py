"""``handover db move-sealed-files``: what an older hub kept under its data directory (uploads, a legacy plain
upload, a quarantined drop, a reference extract, an inspection attachment in the old whole-file form) goes into
the blob store under the keys migration 0019 wrote, opens there, and leaves no old file behind; a second run
finds nothing to do."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from exchange.blobs.local import LocalBlobStore
from exchange.cli import admin, database, setup
from exchange.inbound import reference, uploads
from exchange.intake.sealed_quarantine import QuarantineVault, quarantine_aad, quarantine_key
from exchange.keys import sealing
from exchange.keys.sealed_files import seal_into
from exchange.oversight import attachments
from ledger.db import create_engine, session_factory
from ledger.models.contracts import Contract, Route
from ledger.models.inbound import InboundFile
from ledger.models.oversight import Inspection
from ledger.models.packages import IntakeFile, IntakeStatus
from ledger.models.parties import Person
from tests.factories import DEMO_FILES

UPLOAD = "受付番号,氏名\n1,区民 一郎\n".encode()
LEGACY = "受付番号,氏名\n2,区民 二郎\n".encode()
DROP = "郵便番号,氏名\n000-0001,見本 太郎\n".encode()
EXTRACT = "世帯番号,氏名,生年月日,保護開始日,保護廃止日\nH1,区民 一郎,1950-01-02,2010-04-01,2016-03-31\n".encode()
REPORT = "実地検査チェックリスト".encode()


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin):
        module.register(main)
    return main


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass(frozen=True)
class OldHub:
    upload: str
    legacy: str
    intake: str
    contract: str
    inspection: str
    attachment_key: str


async def _sealed_file(ring: sealing.Keyring, scratch: LocalBlobStore, target: Path, data: bytes, aad: bytes) -> None:
    """A file in the sealed-file format at ``target``, as the older hub wrote it under its data directory."""
    await seal_into(scratch, "scratch/file", _one(data), ring.current, aad)
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(scratch.path_of("scratch/file").rename, target)


async def _old_hub(db_url: str, var: Path, tmp_path: Path) -> OldHub:
    """Rows as migration 0019 leaves them, and the files where the older hub kept them."""
    ring = await asyncio.to_thread(sealing.Keyring.load, var / "master.key")
    scratch = await asyncio.to_thread(LocalBlobStore, tmp_path / "scratch")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            contract = (await session.execute(select(Contract).where(Contract.code == "s1-main"))).scalar_one()
            person = (await session.execute(select(Person).where(Person.code == "a-handler"))).scalar_one()
            route = (await session.execute(select(Route).limit(1))).scalar_one()
            sealed, plain = InboundFile(blob_key=""), InboundFile(blob_key="")
            for row, data in ((sealed, UPLOAD), (plain, LEGACY)):
                row.contract_id, row.person_id, row.kind, row.file_name = (
                    contract.id,
                    person.id,
                    "entered_data",
                    "a.csv",
                )
                row.size, row.sha256 = len(data), hashlib.sha256(data).hexdigest()
                session.add(row)
            await session.flush()
            sealed.blob_key, sealed.sealed = uploads.upload_key(sealed.public_id), True
            old_upload = var / "inbound" / contract.public_id / f"{sealed.public_id}.sealed"
            await _sealed_file(ring, scratch, old_upload, UPLOAD, uploads.aad(sealed.public_id))
            legacy_path = tmp_path / "legacy" / "b.csv"  # a plain file from before sealing, by absolute path
            await asyncio.to_thread(legacy_path.parent.mkdir)
            await asyncio.to_thread(legacy_path.write_bytes, LEGACY)
            plain.blob_key, plain.sealed = str(legacy_path), False
            intake = IntakeFile(route_id=route.id, source_path="/in/x.csv", file_name="x.csv", size=len(DROP))
            intake.status = IntakeStatus.QUARANTINED
            session.add(intake)
            await session.flush()
            intake.sealed_key = quarantine_key(intake.public_id)
            old_drop = var / "quarantine" / f"{intake.public_id}.sealed"
            await _sealed_file(ring, scratch, old_drop, DROP, quarantine_aad(intake.public_id))
            old_reference = var / "references" / f"{contract.public_id}.csv.sealed"
            await _sealed_file(ring, scratch, old_reference, EXTRACT, b"reference:" + contract.public_id.encode())
            inspection = Inspection(contract_id=contract.id, fiscal_year=2026, due_on=date(2027, 3, 31))
            session.add(inspection)
            await session.flush()
            digest = hashlib.sha256(REPORT).hexdigest()
            inspection.attachment_name, inspection.attachment_sha256 = "report.txt", digest
            inspection.attachment_key = attachments.attachment_key(inspection.public_id, digest)
            whole = sealing.seal(ring.current, REPORT, inspection.public_id.encode()).to_bytes()  # the old form
            old_attachment = var / "inspections" / inspection.public_id / f"{digest[:16]}.sealed"
            await asyncio.to_thread(old_attachment.parent.mkdir, parents=True)
            await asyncio.to_thread(old_attachment.write_bytes, whole)
            return OldHub(
                sealed.public_id,
                plain.public_id,
                intake.public_id,
                contract.public_id,
                inspection.public_id,
                inspection.attachment_key,
            )
    finally:
        await engine.dispose()


async def _read_back(db_url: str, var: Path, old: OldHub) -> dict[str, bytes]:
    """Every moved file, opened from the store the way the hub opens it."""
    ring = await asyncio.to_thread(sealing.Keyring.load, var / "master.key")
    blobs = await asyncio.to_thread(LocalBlobStore, var / "blobs")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            rows = {r.public_id: r for r in (await session.execute(select(InboundFile))).scalars()}
            contract = (await session.execute(select(Contract).where(Contract.public_id == old.contract))).scalar_one()
            records = await reference.load(blobs, ring, contract)
    finally:
        await engine.dispose()
    assert rows[old.legacy].sealed and rows[old.legacy].blob_key == uploads.upload_key(old.legacy)
    vault = QuarantineVault(blobs, ring)
    return {
        "upload": b"".join([c async for c in uploads.read_upload(blobs, ring, rows[old.upload])]),
        "legacy": b"".join([c async for c in uploads.read_upload(blobs, ring, rows[old.legacy])]),
        "drop": b"".join([c async for c in vault.plaintext(quarantine_key(old.intake), old.intake)]),
        "attachment": await attachments.open_attachment(ring, blobs, old.attachment_key, old.inspection),
        "reference": str(records).encode(),
    }


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.sealed") if p.is_file())


def test_an_older_hubs_sealed_files_move_into_the_store(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(var))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", db_url)
    runner, cli = CliRunner(), _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["admin", "import", *map(str, DEMO_FILES)]).exit_code == 0
    old = asyncio.run(_old_hub(db_url, var, tmp_path))
    assert len(_files(var)) == 4

    moved = runner.invoke(cli, ["db", "move-sealed-files"])
    assert moved.exit_code == 0, moved.output
    assert "提出ファイル 2件" in moved.output and "隔離ファイル 1件" in moved.output, moved.output
    assert "照合用データ 1件" in moved.output and "検査の添付 1件" in moved.output, moved.output
    assert _files(var) == [] and not (tmp_path / "legacy" / "b.csv").exists()
    opened = asyncio.run(_read_back(db_url, var, old))
    assert opened["upload"] == UPLOAD and opened["legacy"] == LEGACY and opened["drop"] == DROP
    assert opened["attachment"] == REPORT and "区民 一郎" in opened["reference"].decode()

    again = runner.invoke(cli, ["db", "move-sealed-files"])
    assert again.exit_code == 0 and "移しました: なし" in again.output, again.output
