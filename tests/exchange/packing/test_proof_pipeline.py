"""Through the real intake pipeline: a package that fails its proof is never delivered; the attempt is retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from exchange.hub import HubServices
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.service import IntakeService
from exchange.packing.zipaes import AesZipWriter
from ledger.models import IntakeStatus, PackageStatus
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, ledger_kinds, packages, route_dir


async def test_a_package_corrupted_on_its_way_to_disk_is_retried_not_delivered(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one fault injected: the first encrypted block reaches the file with one bit flipped, as a failing disk
    # or a second writer would leave it. Everything else (minimising, packing, proving, retrying) is real.
    written = AesZipWriter._sink_write
    # The archive's writes, in order: the first member's local header, its salt and verifier, then its ciphertext.
    writes = [0]

    def flipping(self: AesZipWriter, data: bytes) -> None:
        writes[0] += 1
        if writes[0] == 3:
            data = bytes([data[0] ^ 0x01]) + bytes(data[1:])
        written(self, data)

    monkeypatch.setattr(AesZipWriter, "_sink_write", flipping)
    folder = await route_dir(hub, "s1-to-contractor")
    folder.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 50, folder / "支給対象.csv", encoding="cp932")
    config = PipelineConfig(store_dir=hub.settings.data_dir / "store", retry_base=timedelta(0))
    pipeline = Pipeline(hub.sessions, hub.connectors, hub.pipeline.preparer, config, blobs=hub.blobs)
    await IntakeService(hub.sessions, pipeline, hub.settings.intake).scan_once()

    assert await pipeline.run_once()
    [waiting] = await intakes(hub)
    assert waiting.status == IntakeStatus.PENDING and waiting.attempts == 1
    assert "作成したパッケージを読み直した結果が元のデータと一致しません" in (waiting.reason_ja or "")
    assert "認証コード（HMAC）" in (waiting.reason_ja or "")
    assert await packages(hub) == [] and await ledger_kinds(hub) == []
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").rglob("*.zip"))
    assert (folder / "支給対象.csv").exists(), "the dropped file waits for the retry"
    work = config.store_dir / waiting.public_id  # holds one folder per claim: the failed claim's is gone
    assert not work.exists() or not any(work.iterdir()), "the unproven package was thrown away"

    await pipeline.drain()
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED and writes[0] > 3
    assert await ledger_kinds(hub) == ["package.sealed", "package.delivered", "intake.finished"]
