"""Issue 15: the hub as separate processes on separate hosts, sharing only PostgreSQL and an S3 bucket.

One web, two worker and one scheduler process, each with a data directory of its own (as on four hosts), over one
PostgreSQL database and one bucket of the moto S3 server. The ward's watched folder is one shared folder, reached
from each worker's data directory as a network share would be (a symlink here). 100 files are dropped; a worker is
SIGKILLed while it works and started again. Then: exactly one package per recipient, every package downloadable
through the web process (which packed none of them), each duty run once per due time, ``handover ledger verify``
ok, and no unfinished multipart upload left in the bucket.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import shutil
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from exchange.identity import api_tokens
from ledger.models.parties import Person, PersonRole
from tests.factories import DEMO_DIR, add_account
from tests.faults.harness import Database, Hub, cli, drop_files, wait_until
from tests.services.moto_s3 import MotoS3

pytestmark = pytest.mark.faults

FILES = 100
ROUTE = Path("inbox") / "生活保護追加給付" / "委託先"
KEYS = ("master.key", "ledger-signing.key")


def _config(host: Path, database_url: str, moto: MotoS3, bucket: str) -> None:
    host.mkdir(parents=True)
    (host / "hub.toml").write_text(
        f'data_dir = "var"\ndemo_dir = "{DEMO_DIR}"\n'
        f'[database]\nurl = "{database_url}"\n'
        '[logging]\nlevel = "INFO"\n'
        "[intake]\nquiet_seconds = 0.3\nrescan_seconds = 1.0\nlease_seconds = 3\nworkers = 2\n"
        f'[blobs]\nkind = "s3"\nbucket = "{bucket}"\nregion = "{moto.region}"\nendpoint_url = "{moto.endpoint_url}"\n'
        'access_key_id = { env = "TEST_S3_KEY" }\nsecret_access_key = { env = "TEST_S3_SECRET" }\n'
        "part_size = 5242880\n"
        '[connectors.outbox]\nkind = "local"\nroot = "var/outbox"\n'
        'jurisdiction = { country = "jp", region = "t" }\n'
        '[connectors.dvd]\nkind = "media"\nroot = "var/media"\n'
        'jurisdiction = { country = "jp", region = "t" }\n',
        encoding="utf-8",
    )
    (host / "var").mkdir()


def _share_watched_folders(host: Path, shared: Path) -> None:
    """The ward's watched folders, one share seen from this host's data directory (here a symlink), and the
    connectors' folders on this host, made by the operator as on any host."""
    (host / "var" / "inbox").symlink_to(shared / "var" / "inbox", target_is_directory=True)
    for folder in ("outbox", "media/staging", "media/images"):
        (host / "var" / folder).mkdir(parents=True)


def _copy_keys(source: Path, host: Path) -> None:
    """The operator distributes the master key and the signing key to every host."""
    for name in KEYS:
        shutil.copy2(source / "var" / name, host / "var" / name)
        (host / "var" / name).chmod(0o600)


async def _token_for_handler(database_url: str) -> str:
    """An API token of the demo's designated handler of s1-main (a-handler), made as the ward's admin would."""
    engine = create_async_engine(database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
            person = await session.scalar(select(Person).where(Person.code == "a-handler"))
            assert person is not None
            account = await add_account(session, "a-handler", PersonRole.HANDLER, person)
            return api_tokens.create(session, account, "複数ホスト試験", now=datetime.now(UTC))
    finally:
        await engine.dispose()


def _download(port: int, token: str, public_id: str) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/packages/{public_id}/content", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
        return bytes(answer.read())


def test_web_workers_and_scheduler_on_separate_hosts(
    tmp_path: Path, empty_pg_url: str, moto_s3: MotoS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    monkeypatch.setenv("TEST_S3_KEY", moto_s3.access_key_id)
    monkeypatch.setenv("TEST_S3_SECRET", moto_s3.secret_access_key)
    shared = tmp_path / "share"
    (shared / "var" / "inbox").mkdir(parents=True)
    hosts = {name: tmp_path / name for name in ("web", "worker1", "worker2", "scheduler")}
    for name, host in hosts.items():
        _config(host, empty_pg_url, moto_s3, s3_bucket)
        if name.startswith("worker"):
            _share_watched_folders(host, shared)
    db = Database(empty_pg_url)
    web = Hub(hosts["web"], "web")
    workers = [Hub(hosts["worker1"], "worker1"), Hub(hosts["worker2"], "worker2")]
    scheduler = Hub(hosts["scheduler"], "scheduler")
    try:
        web.start(demo=True, roles="web")  # migrates the database, loads the demo contracts, makes the keys
        for hub in (*workers, scheduler):
            _copy_keys(hosts["web"], hub.workdir)
        for worker in workers:
            worker.start(roles="worker")
        scheduler.start(roles="scheduler")
        drop_files(shared, [f"抽出{n:03}.csv" for n in range(FILES)])
        # Pull the plug on a worker while files are at every step, then bring it back.
        packed = lambda: len(db.rows("SELECT id FROM packages") or []) >= FILES // 5  # noqa: E731
        assert wait_until(packed, 120), db.statuses()
        workers[0].kill()
        workers[0].start(roles="worker")
        finished = wait_until(lambda: db.statuses().get("finished", 0) == FILES, 300)
        assert finished, db.statuses()
        token = asyncio.run(_token_for_handler(empty_pg_url))
        packages = db.rows("SELECT public_id, intake_id, zip_name, status, sha256 FROM packages") or []
        downloaded = {
            str(public_id): hashlib.sha256(_download(web.port, token, str(public_id))).hexdigest()
            for public_id, *_ in packages
        }
        assert web.health()[0] == 200, web.health()
    finally:
        for hub in (web, *workers, scheduler):
            hub.stop()

    # Exactly one package per recipient (the route has one), each delivered once, none lost or set aside.
    assert db.statuses() == {"finished": FILES}
    assert len(packages) == FILES and len({intake for _, intake, *_ in packages}) == FILES, packages
    assert {status for *_, status, _ in packages} == {"delivered"}
    delivered = sorted(
        path.name for host in (hosts["worker1"], hosts["worker2"]) for path in (host / "var" / "outbox").rglob("*.zip")
    )
    assert delivered == sorted(str(zip_name) for *_, zip_name, _, _ in packages), "one delivered copy per package"
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.reason.txt"))
    # Every package came through the web process, which packed none, and is the package the ledger recorded.
    assert downloaded == {str(public_id): str(sha) for public_id, *_, sha in packages}
    assert not list((hosts["web"] / "var").rglob("*.zip")), "the web host holds no package of its own"
    client = moto_s3.client()
    stored = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
        for item in page.get("Contents", [])
    ]
    package_blobs = {key for key in stored if key.startswith("packages/")}
    recorded = {f"packages/{public_id}.zip" for public_id, *_ in packages}
    assert recorded <= package_blobs, recorded - package_blobs
    # A worker killed after storing a package but before its fenced commit leaves that blob unreferenced (the
    # package is packed again by the next claim). Nothing removes such an orphan yet: a known gap of issue 15.
    assert len(package_blobs - recorded) <= 1, package_blobs - recorded
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    # The ledger has one line of each kind per package and verifies; each duty ran once per due time.
    kinds = collections.Counter(str(kind) for (kind,) in db.rows("SELECT kind FROM ledger_entries") or [])
    assert [kinds[kind] for kind in ("package.sealed", "package.delivered", "intake.finished")] == [FILES] * 3, kinds
    runs = collections.Counter(
        (str(name), str(due)) for name, due in db.rows("SELECT name, due_at FROM duty_runs") or []
    )
    assert runs and max(runs.values()) == 1, runs
    owners = {str(owner) for (owner,) in db.rows("SELECT DISTINCT owner FROM duty_runs") or []}
    assert owners and all("scheduler" in owner or owner for owner in owners)
    verified = cli(hosts["web"], "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"{FILES} files over 1 web, 2 workers (one SIGKILLed), 1 scheduler: {time.monotonic() - started:.1f} s")
