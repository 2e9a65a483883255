"""Issue 13: a drop is set aside only for a fault of its own, never because the database is away.

PostgreSQL shutting down answers in-flight statements with ``AdminShutdownError``, which SQLAlchemy raises as a
plain ``DBAPIError`` (not an ``OperationalError``); before, such a drop was set aside as if it were bad.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from exchange.hub import HubServices
from exchange.intake.service import IntakeService, RouteScanFailed
from exchange.supervision import _message_ja, database_is_away
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, route_dir


class AdminShutdownError(Exception):
    """Stands for asyncpg's error of the same name: only its type's name matters to SQLAlchemy's wrapping here."""


SHUTDOWN = DBAPIError("INSERT INTO intake_files …", None, AdminShutdownError("terminating connection"))


def test_what_counts_as_the_database_being_away() -> None:
    assert database_is_away(SHUTDOWN)
    assert database_is_away(ConnectionRefusedError(111, "Connect call failed"))
    assert database_is_away(TimeoutError())
    assert not database_is_away(IntegrityError("INSERT …", None, Exception("duplicate key")))
    assert not database_is_away(PermissionError(13, "Permission denied"))
    assert "データベース" in _message_ja("intake.scan", SHUTDOWN, 2)
    assert "ファイルの読み書き" in _message_ja("intake.scan", PermissionError(13, "denied"), 1)


async def _one_drop(hub: HubServices, tmp_path: Path) -> Path:
    folder = await route_dir(hub, "s1-to-contractor")
    csv = tmp_path / "source.csv"
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 3, csv, encoding="cp932")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copyfile, csv, folder / "対象.csv")
    return folder


@pytest.mark.parametrize("failure", ["database error", "other error while the database does not answer"])
async def test_a_drop_is_not_set_aside_while_the_database_is_away(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    folder = await _one_drop(hub, tmp_path)
    intake = IntakeService(hub.sessions, hub.pipeline, hub.settings.intake.model_copy(update={"quiet_seconds": 0}))
    raised: Exception = SHUTDOWN if failure == "database error" else RuntimeError("connection reset mid-statement")

    async def enqueue(*_: object) -> None:
        raise raised

    async def silent() -> bool:
        return False

    monkeypatch.setattr(intake.pipeline, "enqueue", enqueue)
    if failure != "database error":
        monkeypatch.setattr(intake, "_database_answers", silent)
    # A database error fails the loop as it is; any other error fails that route's round (the loop reports it).
    with pytest.raises(DBAPIError if failure == "database error" else RouteScanFailed):
        await intake.scan_once()
    assert await asyncio.to_thread((folder / "対象.csv").exists)
    assert not await asyncio.to_thread(lambda: list(folder.parent.rglob("*.reason.txt")))

    monkeypatch.undo()
    await intake.scan_once()  # the database is back: the same drop is queued, not remembered as set aside
    assert [i.file_name for i in await intakes(hub)] == ["対象.csv"]


async def test_a_drop_whose_own_queueing_fails_is_still_set_aside(
    hub: HubServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await _one_drop(hub, tmp_path)
    intake = IntakeService(hub.sessions, hub.pipeline, hub.settings.intake.model_copy(update={"quiet_seconds": 0}))

    async def enqueue(*_: object) -> None:
        raise RuntimeError("this file broke the queueing")

    monkeypatch.setattr(intake.pipeline, "enqueue", enqueue)
    await intake.scan_once()
    assert not await asyncio.to_thread((folder / "対象.csv").exists)
    assert await asyncio.to_thread(lambda: list(folder.parent.rglob("*.reason.txt")))
