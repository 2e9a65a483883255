"""A burst of drops is queued in batches (issue 16), with the same rules as one drop queued alone: each exactly
once, a batch that fails for a reason of its own falls back to one file at a time (a bad file is set aside, the
others are queued), and a database that is away sets nothing aside."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from exchange.hub import HubServices
from exchange.intake.service import IntakeService
from exchange.intake.stability import Ready
from ledger.models import IntakeFile, Route
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, route_dir

DROPS = 6


class AdminShutdownError(Exception):
    """Stands for asyncpg's error of the same name: only its type's name matters to SQLAlchemy's wrapping here."""


async def _drops(hub: HubServices, tmp_path: Path) -> Path:
    folder = await route_dir(hub, "s1-to-contractor")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for n in range(DROPS):
        await asyncio.to_thread(
            write_dummy_csv, "seikatsu-hogo-tsuika", 3, folder / f"対象{n}.csv", encoding="cp932", seed=n
        )
    return folder


def _service(hub: HubServices) -> IntakeService:
    return IntakeService(hub.sessions, hub.pipeline, hub.settings.intake.model_copy(update={"quiet_seconds": 0}))


async def test_a_burst_is_queued_once_each_and_known_drops_are_passed_over(hub: HubServices, tmp_path: Path) -> None:
    await _drops(hub, tmp_path)
    intake = _service(hub)
    await intake.scan_once()
    await intake.scan_once(full=False)  # the same files, still there: known, not queued again
    await intake.scan_once()  # a full rescan asks the database about all of them: still not queued again
    names = sorted(i.file_name for i in await intakes(hub))
    assert names == [f"対象{n}.csv" for n in range(DROPS)]


async def test_a_failing_batch_falls_back_to_one_file_at_a_time(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await _drops(hub, tmp_path)
    intake = _service(hub)
    alone = intake.pipeline.enqueue

    async def broken(*_: object) -> None:
        raise RuntimeError("something in this batch broke the queueing")

    async def one(route: Route, item: Ready) -> IntakeFile | None:
        if item.path.name == "対象0.csv":
            raise RuntimeError("this file broke the queueing")
        return await alone(route, item)

    monkeypatch.setattr(intake.pipeline, "enqueue_many", broken)
    monkeypatch.setattr(intake.pipeline, "enqueue", one)
    await intake.scan_once()
    names = sorted(i.file_name for i in await intakes(hub))
    assert names == [f"対象{n}.csv" for n in range(1, DROPS)]
    assert await asyncio.to_thread(lambda: [p.name for p in folder.parent.rglob("*.reason.txt")])
    assert not await asyncio.to_thread((folder / "対象0.csv").exists)  # set aside, the others queued


async def test_a_batch_is_not_set_aside_while_the_database_is_away(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await _drops(hub, tmp_path)
    intake = _service(hub)

    async def away(*_: object) -> None:
        raise DBAPIError("INSERT INTO intake_files …", None, AdminShutdownError("terminating connection"))

    monkeypatch.setattr(intake.pipeline, "enqueue_many", away)
    with pytest.raises(DBAPIError):
        await intake.scan_once()
    assert not await asyncio.to_thread(lambda: list(folder.parent.rglob("*.reason.txt")))
    monkeypatch.undo()
    await intake.scan_once()
    assert len(await intakes(hub)) == DROPS
