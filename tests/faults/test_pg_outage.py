"""Issue 13: PostgreSQL stops while the hub runs and files keep arriving, then comes back.

The outage lasts 30 s, as the issue asks: far past every timeout involved (the supervisor's back-offs are 1, 2, 4,
8 s … at most 30 s). ``/healthz`` must say not-ok during the outage; intake must resume
by itself within a minute after it; every file delivered exactly once; none set aside.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import Database, Hub, all_finished, check_exactly_once, drop_files, wait_until, write_config
from tests.faults.pgcluster import Cluster

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 30
BEFORE, DURING = 5, 10


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        made.create_database()
        yield made
    finally:
        made.remove()


def test_a_postgresql_outage_stops_nothing_for_good(tmp_path: Path, cluster: Cluster) -> None:
    write_config(tmp_path, cluster.url)
    db = Database(cluster.url)
    hub = Hub(tmp_path)
    hub.start(demo=True)
    try:
        drop_files(tmp_path, [f"前{n}.csv" for n in range(BEFORE)])
        assert wait_until(all_finished(db, BEFORE), 60), db.statuses()

        cluster.stop()
        stopped_at = time.monotonic()
        drop_files(tmp_path, [f"中{n}.csv" for n in range(DURING)])
        seen: list[tuple[float, int, object]] = []
        while time.monotonic() - stopped_at < OUTAGE_SECONDS:
            status, body = hub.health()
            seen.append((time.monotonic() - stopped_at, status, body))
            time.sleep(0.5)
        cluster.start()
        restarted_at = time.monotonic()
        assert not hub.exited(), "the hub must ride out the outage, not exit"
        not_ok = [(at, status, body) for at, status, body in seen if status != 200]
        assert not_ok, f"/healthz said ok throughout the outage: {seen[-3:]}"
        assert all(status == 503 for _, status, _ in not_ok), not_ok[:3]
        assert not_ok[0][2].get("database") == "unreachable", not_ok[0]

        resumed = wait_until(all_finished(db, BEFORE + DURING), 60)
        print(
            f"outage {OUTAGE_SECONDS} s; /healthz not-ok from {not_ok[0][0]:.1f} s; "
            f"all files in {time.monotonic() - restarted_at:.1f} s after PostgreSQL was back"
        )
        assert resumed, db.statuses()
        assert wait_until(lambda: hub.health()[0] == 200, 30), hub.health()
    finally:
        hub.stop()
    check_exactly_once(tmp_path, db, BEFORE + DURING)
