"""A full outbox (a real ENOSPC on a tiny tmpfs) delays delivery; nothing is lost and it completes later."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from exchange.admin import bootstrap
from exchange.hub import HubServices, services
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.service import IntakeService
from ledger.models import IntakeStatus, PackageStatus
from tests.exchange.helpers import hub_settings, intakes, packages, route_dir
from tests.factories import load_demo


@pytest.fixture
async def hub_on_tiny_outbox(tmp_path: Path, db_url: str, tiny_tmpfs: Path) -> AsyncIterator[HubServices]:
    settings = hub_settings(tmp_path, db_url)
    outbox = settings.connectors["outbox"].model_copy(update={"root": tiny_tmpfs})
    settings = settings.model_copy(update={"connectors": {**settings.connectors, "outbox": outbox}})
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await load_demo(session, settings.data_dir.resolve())
        yield running


async def run(hub: HubServices) -> None:
    config = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(milliseconds=20))
    pipeline = Pipeline(hub.sessions, hub.connectors, hub.pipeline.preparer, config, blobs=hub.blobs)
    await IntakeService(hub.sessions, pipeline, hub.settings.intake).scan_once()
    for _ in range(4):  # a few attempts, as the running hub would make over time
        await pipeline.drain()
        await asyncio.sleep(0.4)


async def test_disk_full_then_space_freed(hub_on_tiny_outbox: HubServices, tiny_tmpfs: Path) -> None:
    hub = hub_on_tiny_outbox
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    # Incompressible content: the package stays larger than the 256 KiB outbox.
    rows = "".join(f"000-0001,見本区,{os.urandom(300).hex()},生活扶助,令和7年,理由,口座\n" for _ in range(2000))
    header = "郵便番号,住所,氏名,保護の種類及び程度,対象期間,保護決定理由,振込先口座情報\n"
    (folder / "大きい.csv").write_bytes((header + rows).encode("cp932"))
    await run(hub)
    [package] = await packages(hub)
    [intake] = await intakes(hub)
    assert package.status == PackageStatus.SEALED and package.last_error, "the failure is visible to staff"
    assert intake.status == IntakeStatus.PACKED, "waiting for space, not failed"
    assert (folder / "大きい.csv").exists(), "the original stays until delivery succeeds"
    assert not [p for p in tiny_tmpfs.rglob("*") if p.is_file()], "no partial package left in the outbox"

    await asyncio.to_thread(
        subprocess.run, ["mount", "-o", "remount,size=8m", str(tiny_tmpfs)], check=True, capture_output=True
    )
    await run(hub)
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED
    assert (tiny_tmpfs / "s1-main" / package.zip_name).stat().st_size == package.size
    assert not (folder / "大きい.csv").exists()
