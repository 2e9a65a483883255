"""The intake loops through a real IntakeService: one bad drop or one failing loop never stops the rest, and a
burst of drops is taken in exactly once each."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from exchange.hub import HubServices
from exchange.intake.service import IntakeService
from exchange.supervision import Health
from exchange.web.app import create_app
from ledger.models import IntakeFile, IntakeStatus, PackageStatus, Route
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, ledger_kinds, packages, process, route_dir

S1 = "seikatsu-hogo-tsuika"
BAD_NAME = b"bad\xffname.csv"
SHOWN_BAD_NAME = "bad\ufffdname.csv"


async def _route(hub: HubServices, code: str) -> Route:
    async with hub.sessions() as session:
        return (await session.execute(select(Route).where(Route.code == code))).scalar_one()


async def _drop(folder: Path, name: str, source: Path) -> None:
    """Copy ``source`` in under a temporary name and rename it, as a producer that writes then renames does."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copyfile, source, folder / f"{name}.part")
    await asyncio.to_thread(os.rename, folder / f"{name}.part", folder / name)


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def _running(intake: IntakeService, health: Health) -> AsyncIterator[None]:
    task = asyncio.create_task(intake.run(health))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_name_that_is_not_utf8_is_quarantined_and_the_others_go_on(
    hub: HubServices, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    contractor = await _route(hub, "s1-to-contractor")
    folders = hub.pipeline.folders(contractor)
    folder, quarantine = folders.watch, folders.quarantine
    printer = await route_dir(hub, "s1-to-printer")
    csv = tmp_path / "source.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 3, csv, encoding="cp932")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    bad = os.path.join(os.fsencode(folder), BAD_NAME)
    await asyncio.to_thread(shutil.copyfile, os.fsencode(csv), bad)
    await _drop(folder, "同じ日の正常.csv", csv)

    with caplog.at_level(logging.WARNING):
        await process(hub)
    assert "undecodable name" in caplog.text
    assert not await asyncio.to_thread(os.path.lexists, bad)
    [refused] = [i for i in await intakes(hub) if i.status == IntakeStatus.QUARANTINED]
    assert refused.file_name == SHOWN_BAD_NAME and refused.reason_code == "intake.bad_name"
    assert refused.sealed_key is not None and "ファイル名" in (refused.reason_ja or "")
    assert not await asyncio.to_thread(lambda: list(quarantine.glob("*"))), "sealed, not moved as it was"
    outcome = json.loads(await asyncio.to_thread((folder / f"{SHOWN_BAD_NAME}.result.json").read_text))
    assert outcome["status"] == "quarantined" and outcome["intake_id"] == refused.public_id
    assert outcome["sealed"] and "ファイル名" in outcome["reason"]

    # Dropped after it, on the same route and on another, and the refused file taken out by staff (its original
    # bytes) and dropped again under a proper name: all delivered.
    await _drop(folder, "後から.csv", csv)
    await _drop(printer, "別の経路.csv", csv)
    sealed = hub.pipeline.vault.plaintext(refused.sealed_key or "", refused.public_id)
    original = b"".join([chunk async for chunk in sealed])
    assert original == await asyncio.to_thread(csv.read_bytes)
    await asyncio.to_thread((folder / "付け直し.csv").write_bytes, original)
    await process(hub)
    delivered = {i.file_name for i in await intakes(hub) if i.status == IntakeStatus.FINISHED}
    assert delivered == {"同じ日の正常.csv", "後から.csv", "別の経路.csv", "付け直し.csv"}
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED] * 4
    assert "intake.quarantined" in await ledger_kinds(hub)


async def test_a_dead_loop_is_restarted_and_healthz_says_so_until_it_recovers(
    hub: HubServices,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = Health()
    client = await aiohttp_client(create_app(hub.sessions, health=health))
    intake = IntakeService(hub.sessions, hub.pipeline, hub.settings.intake)
    broken = True
    real_routes = intake.routes

    async def routes() -> list[Route]:
        if broken:
            raise RuntimeError("the routes query failed")
        return await real_routes()

    monkeypatch.setattr(intake, "routes", routes)

    async def scan_failing() -> bool:
        response = await client.get("/healthz")
        body = await response.json()
        return response.status == 503 and body["components"].get("intake.scan", {}).get("status") == "failing"

    async def healthy() -> bool:
        return (await client.get("/healthz")).status == 200

    with caplog.at_level(logging.ERROR, logger="exchange.supervision"):
        async with _running(intake, health):
            await _eventually(scan_failing, 10, "/healthz reports the failing scan loop")
            body = await (await client.get("/healthz")).json()
            assert body["status"] == "degraded" and body["database"] == "ok"
            scan = body["components"]["intake.scan"]
            assert datetime.fromisoformat(scan["since"]).utcoffset() is not None
            assert "受渡しフォルダの確認" in scan["error"] and "Error" not in scan["error"]
            assert "background loop intake.scan failed" in caplog.text and "Traceback" in caplog.text

            broken = False
            await _eventually(healthy, 15, "/healthz is ok again after the loop restarted")
            body = await (await client.get("/healthz")).json()
            assert body["status"] == "ok"
            assert body["components"]["intake.scan"]["status"] == "ok"
            assert body["components"]["intake.scan"]["restarts"] >= 1

            # The restarted loops really work again: a file dropped now is delivered.
            csv = tmp_path / "source.csv"
            await asyncio.to_thread(write_dummy_csv, S1, 3, csv, encoding="cp932")
            await _drop(await route_dir(hub, "s1-to-contractor"), "復旧後.csv", csv)

            async def delivered() -> bool:
                return [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED] and all(
                    i.status == IntakeStatus.FINISHED for i in await intakes(hub)
                )

            await _eventually(delivered, 30, "the file dropped after recovery is delivered")


BURST = 1000


async def test_a_burst_of_drops_is_taken_in_exactly_once_each(hub: HubServices, tmp_path: Path) -> None:
    folder = await route_dir(hub, "s1-to-contractor")
    staging = tmp_path / "staging"
    await asyncio.to_thread(staging.mkdir)
    csv = tmp_path / "source.csv"
    await asyncio.to_thread(write_dummy_csv, S1, 2, csv, encoding="cp932")

    def stage() -> None:
        for n in range(BURST):
            shutil.copyfile(csv, staging / f"burst-{n:04d}.csv")

    def drop_all() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(BURST):
            os.rename(staging / f"burst-{n:04d}.csv", folder / f"burst-{n:04d}.csv")

    await asyncio.to_thread(stage)
    settings = hub.settings.intake.model_copy(update={"workers": 4, "rescan_seconds": 0.2})
    intake = IntakeService(hub.sessions, hub.pipeline, settings)

    async def all_finished() -> bool:
        async with hub.sessions() as session:
            rows = await session.execute(select(IntakeFile.status, func.count()).group_by(IntakeFile.status))
            counts = {status: count for status, count in rows}
        return counts.get(IntakeStatus.FINISHED, 0) >= BURST and not any(
            counts.get(s, 0) for s in (IntakeStatus.PENDING, IntakeStatus.PACKED, IntakeStatus.DELIVERED)
        )

    started = time.monotonic()
    async with _running(intake, Health()):
        await asyncio.to_thread(drop_all)
        await _eventually(all_finished, 900, f"{BURST} drops finished")
        await asyncio.sleep(1.0)  # a few more rescans: a phantom second intake would show now
    elapsed = time.monotonic() - started
    dialect = hub.settings.database.url.split("+")[0]
    logging.getLogger(__name__).warning("burst of %d drops took %.1f s on %s", BURST, elapsed, dialect)

    rows = await intakes(hub)
    assert len(rows) == BURST, Counter(r.status for r in rows)
    assert Counter(r.file_name for r in rows).most_common(1)[0][1] == 1
    assert {r.status for r in rows} == {IntakeStatus.FINISHED}
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED] * BURST

    def results() -> list[str]:
        names = sorted(p.name for p in folder.iterdir())
        assert [n for n in names if n.endswith(".csv")] == [], "every original left the folder"
        jsons = [n for n in names if n.endswith(".result.json")]
        assert jsons == [f"burst-{n:04d}.csv.result.json" for n in range(BURST)]
        return [json.loads((folder / n).read_text(encoding="utf-8"))["status"] for n in jsons]

    assert await asyncio.to_thread(results) == ["delivered"] * BURST
