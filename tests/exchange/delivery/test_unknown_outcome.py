"""Deliveries whose answer was lost, and permanent errors, through the real pipeline (Box emulator, outbox).

- Box stores the upload and the answer is lost: the next attempt finds the copy and records it as the
  delivery; nothing is uploaded twice and no outbox copy appears.
- The answer is lost and Box stays unreachable: the fallback delivers, and the Box copy that may exist is
  recorded, so the retention sweep deletes both and the deletion certificate lists both.
- A permanent error reaches staff on the first attempt: no retry, a result file with the reason in Japanese,
  a register line, the original left in place.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.box import BoxConnector, BoxOptions
from connectors.options import JurisdictionOptions, SecretRef
from exchange.admin import bootstrap
from exchange.hub import HubServices, services
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.service import IntakeService
from exchange.retention.sweep import Sweeper
from ledger.models import Contract, IntakeFile, IntakeStatus, LedgerEntry, Package, PackageStatus
from ledger.models.retention import HubDeletionItem
from ledger.tlog.checkpoint import SigningKey
from policies.dummy import write_dummy_csv
from tests.boxemu import BoxEmulator
from tests.exchange.helpers import hub_settings, intakes, packages, route_dir
from tests.factories import TOKYO, load_demo

ROUTES = """
[[routes]]
code = "box-with-fallback"
name = "生活保護追加給付（Box、代替は出力フォルダ）"
program = "seikatsu-hogo-tsuika"
watch_dir = "inbox/box-fallback"
targets = [{ contract = "s1-main", connector = "box", fallback = "outbox", password_channels = ["notice"] }]

[[routes]]
code = "box-only"
name = "生活保護追加給付（Boxのみ）"
program = "seikatsu-hogo-tsuika"
watch_dir = "inbox/box-only"
targets = [{ contract = "s1-main", connector = "box", password_channels = ["notice"] }]
"""


@pytest.fixture
async def hub(tmp_path: Path, db_url: str, box_emulator: BoxEmulator) -> AsyncIterator[HubServices]:
    secret = tmp_path / "box.secret"
    secret.write_text(box_emulator.state.client_secret, encoding="utf-8")
    settings = hub_settings(tmp_path, db_url)
    box = BoxOptions(
        client_id=box_emulator.state.client_id,
        client_secret=SecretRef(file=secret),
        enterprise_id=box_emulator.state.enterprise_id,
        root_folder_id="0",
        base_url=box_emulator.url,
        jurisdiction=JurisdictionOptions(country="jp", region="test"),
    )
    settings = settings.model_copy(update={"connectors": {**settings.connectors, "box": box}})
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES, encoding="utf-8")
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await load_demo(session, settings.data_dir.resolve(), routes)
        async with running.sessions.begin() as session:
            # The contract's handling terms allow Box as well (the demo's allow the outbox and media only).
            contract = (await session.execute(select(Contract).where(Contract.code == "s1-main"))).scalar_one()
            contract.channels = [*contract.channels, "box"]
        yield running


@pytest.fixture
async def box(box_emulator: BoxEmulator) -> AsyncIterator[BoxConnector]:
    """Quick SDK retries, so a partition fails an attempt in milliseconds."""
    connector = BoxConnector(
        "box",
        TOKYO,
        client_id=box_emulator.state.client_id,
        client_secret=box_emulator.state.client_secret,
        enterprise_id=box_emulator.state.enterprise_id,
        base_url=box_emulator.url,
        max_attempts=2,
        retry_base_interval=0.01,
    )
    yield connector
    await connector.close()


def pipeline(hub: HubServices, box: BoxConnector) -> Pipeline:
    config = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(0), max_attempts=1)
    return Pipeline(hub.sessions, {**hub.connectors, "box": box}, hub.pipeline.preparer, config, blobs=hub.blobs)


async def drop(hub: HubServices, route: str, name: str) -> Path:
    folder = await route_dir(hub, route)
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / name, seed=3)
    return folder


async def take_in(hub: HubServices, worker: Pipeline) -> None:
    await IntakeService(hub.sessions, worker, hub.settings.intake).scan_once()
    assert await worker.run_once(), "packed"


def box_files(emulator: BoxEmulator, name: str) -> list[str]:
    return [f.id for f in emulator.state.files.values() if f.name == name]


def outbox_files(hub: HubServices) -> list[Path]:
    return [p for p in (hub.settings.data_dir.parent / "outbox").rglob("*") if p.is_file()]


async def kinds(hub: HubServices, package_id: str) -> list[str]:
    async with hub.sessions() as session:
        rows = (await session.execute(select(LedgerEntry).order_by(LedgerEntry.idx))).scalars()
        return [json.loads(r.entry)["kind"] for r in rows if r.package_id == package_id]


async def test_lost_answer_then_found_is_recorded_once_without_a_second_upload(
    hub: HubServices, box: BoxConnector, box_emulator: BoxEmulator
) -> None:
    worker = pipeline(hub, box)
    folder = await drop(hub, "box-with-fallback", "対象者.csv")
    await take_in(hub, worker)
    box_emulator.partition_after(method="POST", path="/api/2.0/files/content")
    assert await worker.run_once(), "delivery attempt whose answer is lost"
    [package] = await packages(hub)
    assert package.status == PackageStatus.SEALED
    assert package.other_copies == [{"connector": "box", "folder": "s1-main", "location": None}]
    [stored_id] = box_files(box_emulator, package.zip_name)

    box_emulator.heal()
    await worker.drain()  # the next attempt would be the fallback's: it looks at Box first
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED and package.delivered_via == "box"
    assert package.location == {"connector": "box", "folder": "s1-main", "location": stored_id}
    assert package.other_copies is None
    assert box_files(box_emulator, package.zip_name) == [stored_id], "no second upload"
    assert outbox_files(hub) == [], "no untracked outbox copy"
    [intake] = await intakes(hub)
    assert intake.status == IntakeStatus.FINISHED
    assert not (folder / "対象者.csv").exists()
    assert (await kinds(hub, package.public_id))[-1] == "package.delivered"


async def test_fallback_after_a_lost_answer_records_both_copies_and_retention_deletes_both(
    hub: HubServices, box: BoxConnector, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    worker = pipeline(hub, box)
    await drop(hub, "box-with-fallback", "対象者.csv")
    await take_in(hub, worker)
    box_emulator.partition_after(method="POST", path="/api/2.0/files/content")
    await worker.drain()  # Box cannot be asked: the fallback delivers anyway
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED and package.delivered_via == "outbox"
    assert package.other_copies == [{"connector": "box", "folder": "s1-main", "location": None}]
    [outbox_copy] = outbox_files(hub)
    [box_copy] = box_files(box_emulator, package.zip_name)

    box_emulator.heal()
    sweeper = Sweeper(
        hub.sessions,
        {**hub.connectors, "box": box},
        signing_key=SigningKey.generate("test.handover/ledger"),
        certificates_dir=tmp_path / "certificates",
    )
    result = await sweeper.sweep(datetime(2100, 1, 1, tzinfo=UTC))
    assert result.erased == 1 and result.issued is not None, result.errors
    assert not outbox_copy.exists()
    assert box_copy not in box_emulator.state.files, "the Box copy is deleted and purged too"
    async with hub.sessions() as session:
        [item] = (await session.execute(select(HubDeletionItem))).scalars()
        endpoints = [(c["connector"], c["location"]) for c in item.copies if c["target"] == "endpoint"]
    assert endpoints == [("outbox", str(outbox_copy)), ("box", box_copy)], "the certificate lists both copies"


async def test_a_permanent_error_reaches_staff_on_the_first_attempt(
    hub: HubServices, box: BoxConnector, box_emulator: BoxEmulator
) -> None:
    worker = pipeline(hub, box)
    folder = await drop(hub, "box-only", "対象者.csv")
    await take_in(hub, worker)
    box_emulator.fail_next(100, 403, path="/2.0/folders")
    await worker.drain()
    [package] = await packages(hub)
    [intake] = await intakes(hub)
    assert package.status == PackageStatus.FAILED and package.attempts == 1
    assert intake.status == IntakeStatus.PACKED and intake.attempts == 1
    assert intake.next_attempt_at > datetime.now(UTC) + timedelta(days=3650), "parked for staff, no retry"
    assert intake.reason_ja is not None and "担当者の確認" in intake.reason_ja
    assert (folder / "対象者.csv").exists(), "the original stays for staff"
    result = json.loads((folder / "対象者.csv.result.json").read_text(encoding="utf-8"))
    assert result["status"] == "delivery_failed"
    assert "権限がありません" in result["packages"][0]["reason"]
    assert "再送" in (folder / "対象者.csv.result.txt").read_text(encoding="utf-8")
    assert (await kinds(hub, package.public_id))[-1] == "package.delivery_failed"
    assert not await worker.run_once(), "nothing is retried"

    # Staff fix the cause and press 再送 (what the staff page's resend does to the rows): the intake wakes.
    box_emulator.state.faults.clear()
    async with hub.sessions.begin() as session:
        row = await session.get(Package, package.id)
        waiting = await session.get(IntakeFile, intake.id)
        assert row is not None and waiting is not None
        row.status, row.attempts, row.next_attempt_at = PackageStatus.SEALED, 0, datetime.now(UTC)
        waiting.attempts, waiting.next_attempt_at = 0, datetime.now(UTC)
    await worker.drain()
    [package] = await packages(hub)
    [intake] = await intakes(hub)
    assert package.status == PackageStatus.DELIVERED and intake.status == IntakeStatus.FINISHED
    assert json.loads((folder / "対象者.csv.2.result.json").read_text(encoding="utf-8"))["status"] == "delivered"


async def test_a_permanent_error_with_a_fallback_goes_there_at_once(
    hub: HubServices, box: BoxConnector, box_emulator: BoxEmulator
) -> None:
    worker = pipeline(hub, box)
    await drop(hub, "box-with-fallback", "対象者.csv")
    await take_in(hub, worker)
    box_emulator.fail_next(100, 403, path="/2.0/folders")
    assert await worker.run_once()
    [package] = await packages(hub)
    assert package.attempts == 1
    await worker.drain()
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED and package.delivered_via == "outbox"
    assert package.other_copies is None, "a refusal leaves no copy behind"
    assert await kinds(hub, package.public_id) == ["package.sealed", "package.fallback", "package.delivered"]
