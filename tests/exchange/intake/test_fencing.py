"""Fencing of intake steps: a worker whose lease lapsed while it packed never commits, never removes the work of
the claim that took its row over, and exactly one complete package is delivered."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from exchange.hub import HubServices
from exchange.intake.pipeline import CLAIM_DIR, Pipeline, PipelineConfig
from exchange.intake.preparation import PreparedPackage, Preparer
from exchange.intake.service import IntakeService
from ledger.models import IntakeFile, IntakeStatus, PackageStatus
from ledger.models.base import utcnow
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, ledger_kinds, packages, route_dir, seven_zip_extract
from tests.exchange.intake.test_pipeline import password_of

S1 = "seikatsu-hogo-tsuika"
RECORDS = 40


class StalledPreparer(Preparer):
    """Packs as usual, then stalls (a 2 GB pack, a locked disk) until the test lets it go on."""

    def __init__(self, like: Preparer) -> None:
        super().__init__(like.connectors, like.keyring, like.plugins, scanner=like.scanner)
        self.packed = asyncio.Event()
        self.go_on = asyncio.Event()

    async def _pack(self, *args: object, **kwargs: object) -> PreparedPackage:
        packed = await super()._pack(*args, **kwargs)  # type: ignore[arg-type]
        self.packed.set()
        await self.go_on.wait()
        return packed


async def _drop(hub: HubServices, tmp_path: Path) -> Path:
    folder = await route_dir(hub, "s1-to-contractor")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    dropped = folder / "支給対象.csv"
    await asyncio.to_thread(write_dummy_csv, S1, RECORDS, dropped, encoding="cp932")
    await IntakeService(hub.sessions, hub.pipeline, hub.settings.intake).scan_once()
    return folder


async def test_a_lapsed_worker_neither_commits_nor_removes_the_new_claims_work(
    hub: HubServices, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = await _drop(hub, tmp_path)
    store = hub.settings.data_dir / "store"
    stalled = StalledPreparer(hub.pipeline.preparer)
    # Worker A's heartbeat would beat only every 200 s: its lease lapses unnoticed, as under a long database lock.
    config = PipelineConfig(store_dir=store, lease=timedelta(minutes=10))
    slow = Pipeline(hub.sessions, hub.connectors, stalled, config, blobs=hub.blobs)
    a = slow.worker()
    claim_a = await slow.claim(a)
    assert claim_a is not None and claim_a.generation == 1
    step_a = asyncio.create_task(slow.step(claim_a))
    await asyncio.wait_for(stalled.packed.wait(), 30)
    [intake] = await intakes(hub)
    work_a = store / intake.public_id / f"{CLAIM_DIR}1"
    assert ".zip" in [p.suffix for p in work_a.iterdir()]  # A has written its package

    async with hub.sessions.begin() as session:  # A's lease ends while it is still packing
        await session.execute(
            update(IntakeFile).where(IntakeFile.id == intake.id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    await hub.pipeline.drain()  # worker B claims the row (generation 2) and takes it all the way
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED, package.last_error
    work_b = store / intake.public_id / f"{CLAIM_DIR}2"
    assert Path(package.store_path).parent == work_b
    assert not work_a.exists(), "B's packing commit removed the folder of the lapsed claim"

    with caplog.at_level(logging.WARNING, logger="exchange.intake.pipeline"):
        stalled.go_on.set()
        await asyncio.wait_for(step_a, 30)  # A finishes packing and tries to commit: refused
    assert "claim 1" in caplog.text and "lost; its step is not committed" in caplog.text

    [package] = await packages(hub)  # still exactly one, B's
    assert Path(package.store_path).is_file(), "A's cleanup left B's package alone"
    [intake] = await intakes(hub)
    # Claimed by A once, then by B for each of its three steps (pack, deliver, finish).
    assert (intake.status, intake.lease_owner, intake.lease_generation) == (IntakeStatus.FINISHED, None, 4)
    assert await ledger_kinds(hub) == ["package.sealed", "package.delivered", "intake.finished"]

    extracted = tmp_path / "extracted"
    delivered = tmp_path / "outbox" / "s1-main" / package.zip_name
    result = await asyncio.to_thread(seven_zip_extract, delivered, password_of(hub, package), extracted)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((extracted / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["package_id"] == package.public_id
    assert manifest["files"][0]["record_count"] == RECORDS
    lines = (extracted / "支給対象.csv").read_bytes().decode("cp932").splitlines()
    assert len(lines) == RECORDS + 1  # the header and every record: complete
    outcome = json.loads((folder / "支給対象.csv.result.json").read_text(encoding="utf-8"))
    assert [p["package_id"] for p in outcome["packages"]] == [package.public_id]


async def test_each_worker_task_claims_under_its_own_name(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for name in ("一.csv", "二.csv"):
        await asyncio.to_thread(write_dummy_csv, S1, 2, folder / name, encoding="cp932")
    await IntakeService(hub.sessions, hub.pipeline, hub.settings.intake).scan_once()
    first, second = hub.pipeline.worker(), hub.pipeline.worker()
    assert first.holder != second.holder
    claims = [await hub.pipeline.claim(first), await hub.pipeline.claim(second)]
    assert [c.holder for c in claims if c is not None] == [first.holder, second.holder]
    async with hub.sessions() as session:
        owners = (await session.execute(select(IntakeFile.lease_owner).order_by(IntakeFile.id))).scalars().all()
    assert owners == [first.holder, second.holder]
    assert owners[0].rsplit("-", 1)[0] == owners[1].rsplit("-", 1)[0]  # one process, two tasks


async def test_a_step_whose_claim_is_taken_over_stops_and_removes_only_its_own_folder(
    hub: HubServices, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _drop(hub, tmp_path)
    store = hub.settings.data_dir / "store"
    stalled = StalledPreparer(hub.pipeline.preparer)
    quick = Pipeline(
        hub.sessions,
        hub.connectors,
        stalled,
        PipelineConfig(store_dir=store, lease=timedelta(seconds=1.2)),
        blobs=hub.blobs,
    )
    claim = await quick.claim(quick.worker())
    assert claim is not None
    with caplog.at_level(logging.WARNING):
        step = asyncio.create_task(quick.step(claim))
        await asyncio.wait_for(stalled.packed.wait(), 30)
        [intake] = await intakes(hub)
        mine, later = (store / intake.public_id / f"{CLAIM_DIR}{n}" for n in (1, 2))
        await asyncio.to_thread(later.mkdir)  # the work of the claim that takes the row over
        await asyncio.to_thread((later / "in-use.zip").write_bytes, b"PK")
        async with hub.sessions.begin() as session:
            await session.execute(
                update(IntakeFile)
                .where(IntakeFile.id == intake.id)
                .values(lease_owner="worker-elsewhere-1", lease_generation=IntakeFile.lease_generation + 1)
            )
        await asyncio.wait_for(step, 10)  # the heartbeat stops the stalled step: it never gets to go on
    assert "taken over by a later claim; the step stops itself" in caplog.text
    assert "lost; its step is not committed" in caplog.text
    assert not mine.exists(), "the stopped step removed its own folder"
    assert (later / "in-use.zip").exists(), "and nothing of the later claim's"
    [intake] = await intakes(hub)
    assert (intake.status, intake.lease_owner) == (IntakeStatus.PENDING, "worker-elsewhere-1")
    assert await packages(hub) == []
    assert await ledger_kinds(hub) == []
