"""Every file is scanned by a real clamd before it moves (C-12); with clamd down, nothing moves (fail closed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from exchange.hub import HubServices
from exchange.intake.antivirus import ClamdScanner, ScannerUnavailable
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.preparation import Preparer
from exchange.intake.service import IntakeService
from ledger.models import IntakeStatus
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, packages, route_dir
from tests.services.clamd import EICAR, Clamd, start_clamd


async def test_clean_and_infected(clamd: Clamd, tmp_path: Path) -> None:
    scanner = ClamdScanner(clamd.socket)
    clean = tmp_path / "clean.csv"
    clean.write_text("郵便番号\n000-0001\n", encoding="utf-8")
    infected = tmp_path / "eicar.csv"
    infected.write_bytes(EICAR)
    assert await scanner.scan(clean) is None
    assert await scanner.scan(infected) == "Test.EICAR.UNOFFICIAL"


async def test_scanner_down_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(ScannerUnavailable):
        await ClamdScanner(tmp_path / "absent.sock").scan(Path(__file__))


def scanning_pipeline(hub: HubServices, socket: Path) -> Pipeline:
    scanner = ClamdScanner(socket, timeout=10)
    preparer = Preparer(hub.connectors, hub.keyring, hub.pipeline.preparer.plugins, scanner=scanner)
    config = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(0))
    return Pipeline(hub.sessions, hub.connectors, preparer, config, blobs=hub.blobs)


async def run(hub: HubServices, pipeline: Pipeline) -> None:
    await IntakeService(hub.sessions, pipeline, hub.settings.intake).scan_once()
    while await pipeline.run_once():
        if all(i.attempts >= 1 for i in await intakes(hub) if i.status == IntakeStatus.PENDING):
            break


async def test_eicar_is_quarantined_and_clean_data_flows(hub: HubServices, clamd: Clamd) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eicar.csv").write_bytes(EICAR)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / "clean.csv", encoding="cp932")
    await run(hub, scanning_pipeline(hub, clamd.socket))
    outcome = json.loads((folder / "eicar.csv.result.json").read_text(encoding="utf-8"))
    assert outcome["status"] == "quarantined" and "ウイルス" in outcome["reason"]
    assert "Test.EICAR" in outcome["reason"]
    assert [p.status.value for p in await packages(hub)] == ["delivered"]


@pytest.fixture
async def private_clamd(tmp_path: Path) -> AsyncIterator[Clamd]:
    server = start_clamd(tmp_path / "clamd")
    yield server
    server.stop()


async def test_nothing_moves_while_clamd_is_down(hub: HubServices, private_clamd: Clamd) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / "待機.csv", encoding="cp932")
    private_clamd.stop()
    pipeline = scanning_pipeline(hub, private_clamd.socket)
    await run(hub, pipeline)
    [waiting] = await intakes(hub)
    assert waiting.status == IntakeStatus.PENDING and waiting.attempts >= 1
    assert "clamd" in (waiting.reason_ja or ""), "staff can see why nothing moved"
    assert (folder / "待機.csv").exists() and await packages(hub) == []
