"""Issue 13: several hubs on one PostgreSQL database, watching the same folders (one working folder, so the same
keys and data folder), take in a batch together: every file delivered exactly once, none lost, none set aside.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.harness import Database, Hub, all_finished, check_exactly_once, drop_files, wait_until, write_config

pytestmark = pytest.mark.faults

FILES = 30


@pytest.mark.parametrize("hubs", [2, 3])
def test_several_hubs_share_one_database(tmp_path: Path, empty_pg_url: str, hubs: int) -> None:
    started = time.monotonic()
    write_config(tmp_path, empty_pg_url)
    db = Database(empty_pg_url)
    fleet = [Hub(tmp_path, f"hub{n}") for n in range(hubs)]
    try:
        fleet[0].start(demo=True)
        for hub in fleet[1:]:
            hub.start()
        drop_files(tmp_path, [f"抽出{n:03}.csv" for n in range(FILES)])
        finished = wait_until(all_finished(db, FILES), 90)
        assert all(hub.health()[0] == 200 for hub in fleet), [hub.health() for hub in fleet]
    finally:
        for hub in fleet:
            hub.stop()
    assert finished, db.statuses()
    check_exactly_once(tmp_path, db, FILES)
    queued = [hub.log.read_text(encoding="utf-8", errors="replace").count("queued a file") for hub in fleet]
    print(f"{hubs} hubs, {FILES} files: {time.monotonic() - started:.1f} s; files queued by each hub: {queued}")
