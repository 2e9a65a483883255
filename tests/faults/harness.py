"""Real ``handover serve`` processes under faults, and the checks every fault test ends with.

A ``Hub`` is one hub process with its own port; several may share one working folder (same data folder, keys and
watched folders) and one database. The state is read from outside, as an operator would: read-only SQLite, or a
separate asyncpg connection, and the files in the outbox. Every wait is a poll with a deadline.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from policies.dummy import write_dummy_csv
from tests.factories import DEMO_DIR, ROOT
from tests.services import free_port, processes

ROUTE_FOLDER = Path("var") / "inbox" / "生活保護追加給付" / "委託先"
OUTBOX = Path("var") / "outbox" / "s1-main"
PROGRAM = "seikatsu-hogo-tsuika"


def write_config(workdir: Path, database_url: str, *, lease_seconds: float = 3, workers: int = 2) -> Path:
    config = workdir / "hub.toml"
    config.write_text(
        f'data_dir = "var"\ndemo_dir = "{DEMO_DIR}"\n'
        f'[database]\nurl = "{database_url}"\n'
        '[logging]\nlevel = "INFO"\n'
        f"[intake]\nquiet_seconds = 0.3\nrescan_seconds = 1.0\nlease_seconds = {lease_seconds}\nworkers = {workers}\n"
        '[connectors.outbox]\nkind = "local"\nroot = "var/outbox"\n'
        'jurisdiction = { country = "jp", region = "t" }\n'
        '[connectors.dvd]\nkind = "media"\nroot = "var/media"\n'
        'jurisdiction = { country = "jp", region = "t" }\n',
        encoding="utf-8",
    )
    return config


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "--config", str(workdir / "hub.toml"), *args],
        cwd=workdir,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class Hub:
    """One ``handover serve`` process in ``workdir`` (config ``hub.toml`` there), on a port of its own."""

    def __init__(self, workdir: Path, name: str = "hub") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    def start(self, *, demo: bool = False, roles: str = "", timeout: float = 90) -> None:
        """Start and wait until it serves (``/healthz`` 200) or, without the web role, says it runs."""
        args = ["serve", "--port", str(self.port), *(["--demo"] if demo else [])]
        args += ["--role", roles] if roles else []
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exchange", "--config", str(self.workdir / "hub.toml"), *args],
                cwd=self.workdir,
                env=env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        ready = lambda: "handover is running as" in self.output() or self.health()[0] == 200  # noqa: E731
        if not wait_until(lambda: self.exited() or ready(), timeout, 0.1) or self.exited():
            raise RuntimeError(f"hub did not come up: {self.output()}")

    def output(self) -> str:
        """What this run of the process has written so far (the log is kept across restarts)."""
        with self.log.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", errors="replace")

    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def health(self) -> tuple[int, dict[str, object]]:
        """``/healthz``'s status and body; (0, {}) when the hub does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def kill(self) -> None:
        processes.kill(self.process)

    def stop(self) -> None:
        processes.stop(self.process)


@dataclass(frozen=True)
class Database:
    """Reads the hub's database from outside, never blocking on it for long."""

    url: str

    def rows(self, sql: str) -> list[tuple[object, ...]] | None:
        """The rows, or None when the database cannot be read right now (down, locked)."""
        if self.url.startswith("sqlite"):
            path = self.url.split(":///", 1)[1]
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
                    return conn.execute(sql).fetchall()
            except sqlite3.Error:
                return None
        return asyncio.run(self._pg_rows(sql))

    async def _pg_rows(self, sql: str) -> list[tuple[object, ...]] | None:
        try:
            conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return None
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        except asyncpg.PostgresError:
            return None
        finally:
            await conn.close()

    def statuses(self) -> collections.Counter[str]:
        rows = self.rows("SELECT status FROM intake_files") or []
        return collections.Counter(str(status) for (status,) in rows)


def drop_files(workdir: Path, names: list[str], rows: int = 20) -> None:
    """Write each file hidden, then rename it into the watched folder, as producers should."""
    folder = workdir / ROUTE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        staged = folder / f".staging-{name}"
        write_dummy_csv(PROGRAM, rows, staged, encoding="cp932", seed=zlib.crc32(name.encode()) + index)
        staged.rename(folder / name)


def all_finished(db: Database, count: int) -> Callable[[], bool]:
    return lambda: db.statuses().get("finished", 0) == count


def check_exactly_once(workdir: Path, db: Database, count: int) -> None:
    """0 lost, 0 duplicated, 0 false quarantines, one register line of each kind per package, ledger verifies."""
    statuses = db.statuses()
    assert statuses == {"finished": count}, (statuses, db.rows("SELECT file_name, status, reason_ja FROM intake_files"))
    packages = db.rows("SELECT intake_id, zip_name, status FROM packages") or []
    assert len(packages) == count, packages
    assert len({intake for intake, _, _ in packages}) == count, "one package per dropped file"
    assert {status for _, _, status in packages} == {"delivered"}
    zips = sorted(p.name for p in (workdir / OUTBOX).iterdir())
    assert zips == sorted(str(name) for _, name, _ in packages), "exactly one delivered copy per package"
    assert not list((workdir / "var" / "outbox").rglob("*.part")), "no half-written package left"
    assert not list((workdir / "var").rglob("*.reason.txt")), "no file set aside or quarantined"
    leftovers = [p.name for p in (workdir / ROUTE_FOLDER).iterdir() if p.suffix == ".csv"]
    assert leftovers == [], "no plaintext left in the watched folder"
    kinds = collections.Counter(str(kind) for (kind,) in db.rows("SELECT kind FROM ledger_entries") or [])
    assert kinds == {"package.sealed": count, "package.delivered": count, "intake.finished": count}, kinds
    verified = cli(workdir, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
