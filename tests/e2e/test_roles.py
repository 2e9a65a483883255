"""Issue 15: ``handover serve --role`` splits the hub over processes sharing one database (a SQLite file on one
host, or PostgreSQL), and ``handover health`` tells from their heartbeat rows whether each role is alive.

Real ``handover serve`` subprocesses: a web-only process answers ``/healthz`` and takes no dropped file; a
worker-only process takes it in and packs it while listening on no port; a scheduler-only process runs the due
duties; a stopped worker is reported at once, a killed one once its heartbeat is older than the window.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.faults.harness import (
    ROUTE_FOLDER,
    Database,
    Hub,
    all_finished,
    check_exactly_once,
    cli,
    drop_files,
    wait_until,
    write_config,
)


def listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on: its socket file descriptors matched against the kernel's LISTEN table."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def pid_of(hub: Hub) -> int:
    assert hub.process is not None
    return hub.process.pid


def health(workdir: Path, *args: str) -> tuple[int, str]:
    answer = cli(workdir, "health", *args)
    return answer.returncode, answer.stdout + answer.stderr


def test_each_role_runs_only_its_part(tmp_path: Path, db_url: str) -> None:
    write_config(tmp_path, db_url)
    with (tmp_path / "hub.toml").open("a", encoding="utf-8") as config:
        config.write("[serve]\nheartbeat_seconds = 1\n")
    db = Database(db_url)
    web, worker, scheduler = Hub(tmp_path, "web"), Hub(tmp_path, "worker"), Hub(tmp_path, "scheduler")
    try:
        web.start(demo=True, roles="web,web")
        status, body = web.health()
        assert status == 200 and body["roles"] == ["web"], body
        # No intake loops, no duty ticker; the ledger queue's sweep runs in every role (each writes register lines).
        assert set(body["components"]) == {"heartbeat", "ledger.sequence"}, body
        assert listening_ports(pid_of(web)) == {web.port}
        code, said = health(tmp_path, "--role", "worker")
        assert code == 1 and "応答したプロセスがありません" in said and "no worker process" in said, said

        drop_files(tmp_path, ["役割.csv"])
        assert not wait_until(lambda: bool(db.statuses()), 4), "a web-only process took a dropped file in"
        assert (tmp_path / ROUTE_FOLDER / "役割.csv").exists()

        worker.start(roles="worker")
        assert "no listener" in worker.output()
        assert wait_until(all_finished(db, 1), 60), db.statuses()
        assert listening_ports(pid_of(worker)) == set()
        assert db.rows("SELECT name FROM duty_runs") == [], "neither web nor worker runs duties"
        code, said = health(tmp_path)  # every role: web and worker alive, no scheduler yet
        assert code == 1 and said.count("正常") == 2 and "no scheduler process" in said, said

        scheduler.start(roles="scheduler")
        assert wait_until(lambda: ("ledger.checkpoint",) in (db.rows("SELECT name FROM duty_runs WHERE ok") or []), 60)
        assert listening_ports(pid_of(scheduler)) == set()
        code, said = health(tmp_path)
        assert code == 0 and said.count("正常") == 3, said

        worker.stop()  # SIGTERM: a graceful stop removes the worker's heartbeat row at once
        assert worker.process is not None and worker.process.returncode == 0, worker.output()
        code, said = health(tmp_path, "--role", "worker,scheduler")
        assert code == 1 and "no worker process" in said and "定期処理（scheduler）: 正常" in said, said
    finally:
        for hub in (web, worker, scheduler):
            hub.stop()
    check_exactly_once(tmp_path, db, 1)


def test_a_killed_worker_is_reported_once_its_heartbeat_is_stale(tmp_path: Path, db_url: str) -> None:
    write_config(tmp_path, db_url)
    with (tmp_path / "hub.toml").open("a", encoding="utf-8") as config:
        config.write('[serve]\nheartbeat_seconds = 1\nroles = ["worker"]\n')  # the roles from the configuration
    worker = Hub(tmp_path, "worker")
    try:
        worker.start(demo=True)
        assert "handover is running as worker (no listener)" in worker.output()
        assert wait_until(lambda: health(tmp_path, "--role", "worker", "--within", "3")[0] == 0, 15)
        worker.kill()
        code, said = health(tmp_path, "--role", "worker", "--within", "3")
        if code == 0:  # its last beat may still be inside the window
            assert wait_until(lambda: health(tmp_path, "--role", "worker", "--within", "3")[0] == 1, 10)
            code, said = health(tmp_path, "--role", "worker", "--within", "3")
        assert code == 1 and "3秒以内に応答したプロセスがありません" in said, said
    finally:
        worker.stop()


def test_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    answer = cli(tmp_path, "serve", "--role", "web,mailer")
    assert answer.returncode == 2
    assert "unknown role 'mailer': the roles are web, worker, scheduler" in answer.stderr, answer.stderr
