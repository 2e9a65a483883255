"""By hand, not in CI (issue 13): a 2 GB drop, a 3 s lease, and the SQLite file locked for 35 s while it is packed.

Before fencing this delivered a truncated package while the manifest and register claimed every record. Run:
``PYTHONPATH=. python -m tests.faults.lost_lease_by_hand WORKDIR [GB]``; it prints the claims lost, the package's
record count against the source's, and 7-Zip's listing, then runs the exactly-once checks of the fault tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from policies.dummy import write_dummy_csv
from tests.faults.harness import (
    OUTBOX,
    PROGRAM,
    ROUTE_FOLDER,
    Database,
    Hub,
    check_exactly_once,
    wait_until,
    write_config,
)

HOLD_LOCK = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)\n"
    "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(35)\nc.execute('ROLLBACK')\n"
)


def _big_csv(work: Path, gigabytes: float) -> tuple[Path, int]:
    """Many copies of 2,000 dummy records (fast to write; the records' values do not matter here)."""
    seed = work / "seed.csv"
    write_dummy_csv(PROGRAM, 2000, seed, encoding="cp932")
    header, *rows = seed.read_bytes().splitlines(keepends=True)
    body = b"".join(rows)
    staged = work / "big.csv"
    records = 0
    with staged.open("wb") as out:
        out.write(header)
        while out.tell() < gigabytes * 1e9:
            out.write(body)
            records += len(rows)
    return staged, records


def main(work: Path, gigabytes: float) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{work}/var/handover.db"
    write_config(work, url, lease_seconds=3, workers=2)
    db = Database(url)
    staged, records = _big_csv(work, gigabytes)
    print(f"source: {staged.stat().st_size / 1e9:.2f} GB, {records} records", flush=True)
    hub = Hub(work)
    hub.start(demo=True)
    started = time.monotonic()
    try:
        folder = work / ROUTE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        staged.rename(folder / "大きな支給対象.csv")
        assert wait_until(lambda: bool(db.rows("SELECT id FROM intake_files WHERE lease_owner IS NOT NULL")), 120)
        time.sleep(5)  # well into the packing
        lock = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(work / "var" / "handover.db")], stdout=subprocess.PIPE, text=True
        )
        assert lock.stdout is not None and lock.stdout.readline().strip() == "locked"
        print(f"locked at {time.monotonic() - started:.0f} s", flush=True)
        lock.wait()
        print(f"lock released at {time.monotonic() - started:.0f} s", flush=True)
        finished = wait_until(lambda: db.statuses().get("finished", 0) == 1, 1800, 2)
        print(f"finished {finished} at {time.monotonic() - started:.0f} s", flush=True)
        print("intake (attempts, generation):", db.rows("SELECT attempts, lease_generation FROM intake_files"))
        print("package records:", db.rows("SELECT content FROM packages"))
    finally:
        hub.stop()
    lost = [line for line in hub.log.read_text(errors="replace").splitlines() if "lost; its step" in line]
    print("claims lost:", *lost, sep="\n  ")
    archive = next((work / OUTBOX).iterdir())
    print(subprocess.run(["7zz", "l", str(archive)], capture_output=True, text=True).stdout[-600:])
    check_exactly_once(work, db, 1)
    print("exactly once; the ledger verifies")


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 2.0)
