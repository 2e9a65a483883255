"""SIGKILL the running hub at each step of a delivery, restart it, and check nothing was lost or doubled.

The kill points are found by watching the hub's own state (database rows and outbox files) from outside, as an
operator pulling the plug would: after intake, after packing, in the middle of writing to the outbox, and after
the package reached the outbox but before its delivery was committed.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.dummy import write_dummy_csv
from tests.e2e.demo_hub import DemoHub

FILES = 3
ROWS = 150_000  # ~35 MB each: writing to the outbox takes long enough to be caught in the middle


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []


def wait_until(condition: Callable[[], bool], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def kill_points(db: Path, outbox: Path) -> dict[str, Callable[[], bool]]:
    def status(name: str) -> Callable[[], bool]:
        return lambda: bool(query(db, f"SELECT 1 FROM intake_files WHERE status = '{name}'"))

    def outbox_temp() -> bool:
        return any(outbox.rglob(".handover-*.part"))

    def delivered_not_committed() -> bool:
        sealed = query(db, "SELECT zip_name FROM packages WHERE status = 'sealed'")
        return any((outbox / "s1-main" / str(name)).exists() for (name,) in sealed)

    return {
        "after intake": status("pending"),
        "after packing": status("packed"),
        "mid delivery": outbox_temp,
        "after delivery, before the register write": delivered_not_committed,
    }


@pytest.mark.parametrize("point", list(kill_points(Path(), Path())))
def test_sigkill_at_each_step_loses_and_doubles_nothing(point: str, tmp_path: Path) -> None:
    hub = DemoHub(tmp_path)
    hub.config.write_text(
        hub.config.read_text(encoding="utf-8").replace(
            "rescan_seconds = 5.0", "rescan_seconds = 1.0\nlease_seconds = 3"
        ),
        encoding="utf-8",
    )
    db = tmp_path / "var" / "handover.db"
    outbox = tmp_path / "var" / "outbox"
    hub.start()
    folder = tmp_path / "var" / "inbox" / "生活保護追加給付" / "委託先"
    sources = []
    for index in range(FILES):
        staged = tmp_path / f"source{index}.csv"
        write_dummy_csv("seikatsu-hogo-tsuika", ROWS, staged, encoding="cp932", seed=index)
        sources.append(staged)
    for index, staged in enumerate(sources):
        staged.rename(folder / f"抽出{index}.csv")

    caught = wait_until(kill_points(db, outbox)[point])
    hub.kill()
    assert caught, f"never saw the hub '{point}'"

    hub.start(demo=False)
    finished = wait_until(lambda: len(query(db, "SELECT 1 FROM intake_files WHERE status = 'finished'")) == FILES, 240)
    hub.stop()
    assert finished, query(db, "SELECT file_name, status, reason_ja FROM intake_files")

    packages = query(db, "SELECT public_id, zip_name, status FROM packages")
    assert len(packages) == FILES and {status for _, _, status in packages} == {"delivered"}
    zips = sorted(p.name for p in (outbox / "s1-main").iterdir())
    assert zips == sorted(str(name) for _, name, _ in packages), "exactly one delivered package per dropped file"
    assert not list(outbox.rglob("*.part")), "no half-written package left in the outbox"

    kinds = collections.Counter(kind for (kind,) in query(db, "SELECT kind FROM ledger_entries"))
    assert kinds == {"package.sealed": FILES, "package.delivered": FILES, "intake.finished": FILES}
    per_package = collections.Counter(
        (kind, pid)
        for kind, pid in query(db, "SELECT kind, package_id FROM ledger_entries WHERE package_id IS NOT NULL")
    )
    assert set(per_package.values()) == {1}, "every register entry present once"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".csv") == [], "no plaintext left after success"
    store_leftovers = [p for p in (tmp_path / "var" / "store").rglob("*") if p.is_file() and p.suffix != ".zip"]
    assert store_leftovers == []
