"""Issue 13: another process holds the hub's SQLite file locked (``BEGIN EXCLUSIVE``) for 40 s, longer than the
30 s busy timeout. ``/healthz`` must say not-ok meanwhile, and intake must resume by itself afterwards, every file
delivered exactly once and none set aside.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.harness import Database, Hub, all_finished, check_exactly_once, drop_files, wait_until, write_config

pytestmark = pytest.mark.faults

LOCK_SECONDS = 40  # the busy timeout is 30 s (ledger/db.py): the lock must outlast it
BEFORE, DURING = 5, 10

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_a_lock_longer_than_the_busy_timeout_stops_nothing_for_good(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/var/handover.db"
    write_config(tmp_path, url)
    db = Database(url)
    hub = Hub(tmp_path)
    hub.start(demo=True)
    try:
        drop_files(tmp_path, [f"前{n}.csv" for n in range(BEFORE)])
        assert wait_until(all_finished(db, BEFORE), 60), db.statuses()

        locker = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "var" / "handover.db"), str(LOCK_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        drop_files(tmp_path, [f"中{n}.csv" for n in range(DURING)])
        seen: list[tuple[float, int, object]] = []
        while locker.poll() is None:
            status, body = hub.health()
            seen.append((time.monotonic() - locked_at, status, body.get("components")))
            time.sleep(0.5)
        released_at = time.monotonic()
        locker.stdout.close()
        assert locker.returncode == 0
        not_ok = [(at, status) for at, status, _ in seen if status != 200]
        assert not_ok, f"/healthz said ok throughout the {LOCK_SECONDS} s lock: {seen[-3:]}"

        resumed = wait_until(all_finished(db, BEFORE + DURING), 60)
        print(
            f"lock {LOCK_SECONDS} s; /healthz not-ok from {not_ok[0][0]:.1f} s; "
            f"all in {time.monotonic() - released_at:.1f} s after the lock ended"
        )
        assert resumed, db.statuses()
        assert wait_until(lambda: hub.health()[0] == 200, 30), hub.health()
    finally:
        hub.stop()
    check_exactly_once(tmp_path, db, BEFORE + DURING)
