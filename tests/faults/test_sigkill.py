"""Issue 13: random SIGKILLs of the hub while it takes in a batch of files, restarted each time.

200 files per database, as the issue asks, and 4 kills at random moments: about a minute per database on a 2-core
machine, catching files at every step (queued, packing, delivering, committing).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.faults.harness import Database, Hub, all_finished, check_exactly_once, drop_files, wait_until, write_config

pytestmark = pytest.mark.faults

FILES = 200
KILLS = 4


def test_random_sigkills_lose_and_double_nothing(tmp_path: Path, hub_db_url: str) -> None:
    started = time.monotonic()
    write_config(tmp_path, hub_db_url, lease_seconds=3)
    db = Database(hub_db_url)
    hub = Hub(tmp_path)
    hub.start(demo=True)
    chance = random.Random(13)
    try:
        drop_files(tmp_path, [f"抽出{n:03}.csv" for n in range(FILES // 2)])
        for kill in range(KILLS):
            time.sleep(chance.uniform(0.2, 2.0))  # a random moment to pull the plug, not an assertion
            hub.kill()
            if kill == 1:
                drop_files(tmp_path, [f"抽出{n:03}.csv" for n in range(FILES // 2, FILES)])
            hub.start()
        finished = wait_until(all_finished(db, FILES), 300)
    finally:
        hub.stop()
    assert finished, db.statuses()
    check_exactly_once(tmp_path, db, FILES)
    print(f"{FILES} files, {KILLS} SIGKILLs: {time.monotonic() - started:.1f} s")
