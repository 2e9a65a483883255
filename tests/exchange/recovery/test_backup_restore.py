"""``handover backup`` and ``handover restore`` as an operator runs them: real ``handover serve`` processes, both
databases (PostgreSQL through pg_dump/pg_restore), and the restored hub checked through the CLI (C-13)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from exchange.blobs.local import LocalBlobStore
from tests.factories import DEMO_FILES
from tests.faults.harness import ROUTE_FOLDER, Database, Hub, cli, drop_files, wait_until, write_config

KEYS = ("master.key", "ledger-signing.key")


def _hub(workdir: Path, database_url: str, *extra: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, database_url, lease_seconds=3)
    initialised = cli(workdir, "init")
    assert initialised.returncode == 0, initialised.stderr
    imported = cli(workdir, "admin", "import", *map(str, [*DEMO_FILES, *extra]))
    assert imported.returncode == 0, imported.stderr


def _put_blobs(store: LocalBlobStore, scratch: Path, names: list[str]) -> None:
    """Blobs written straight into the hub's store, as the moved packages and uploads will be."""
    scratch.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = scratch / name
        source.write_bytes(os.urandom(50_000) + name.encode())
        asyncio.run(store.put_file(f"uploads/{name}", source))


def _files_hold(folder: Path, secret: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and secret in path.read_bytes()]


def _restored_url(request: pytest.FixtureRequest, db_url: str, workdir: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{workdir / 'var' / 'handover.db'}"
    url: str = request.getfixturevalue("empty_pg_url")
    return url


def test_a_backup_of_a_busy_hub_restores_into_an_empty_directory_and_verifies(
    tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    original = tmp_path / "original"
    _hub(original, db_url)
    store = LocalBlobStore(original / "var" / "blobs")
    _put_blobs(store, tmp_path / "scratch", [f"before-{n}" for n in range(5)])
    hub = Hub(original)
    hub.start()
    stop = threading.Event()

    def keep_writing() -> None:
        # Blobs keep arriving while the backup runs: the set must still be consistent (hash-checked copies).
        n = 0
        while not stop.is_set():
            _put_blobs(store, tmp_path / "scratch-busy", [f"busy-{n}"])
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        drop_files(original, [f"d{n:02d}.csv" for n in range(12)], rows=200)
        database = Database(db_url)
        assert wait_until(lambda: database.statuses().get("finished", 0) >= 2, 120), database.statuses()
        # Taken while the hub is still taking in the rest of the drops and blobs are being written.
        pg_dump = ["--pg-dump"] if db_url.startswith("postgresql") else []
        backup = cli(original, "backup", str(tmp_path / "set"), *pg_dump)
    finally:
        stop.set()
        writer.join()
        hub.stop()
    assert backup.returncode == 0, backup.stderr
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ledger"]["tree_size"] > 0
    assert manifest["blobs"]["copied"] is True and len(manifest["blobs"]["items"]) >= 5
    assert "keys are not in the backup" in backup.stdout

    # The keys are never in the set, in any file.
    for key in KEYS:
        assert _files_hold(tmp_path / "set", (original / "var" / key).read_bytes()) == []
        assert not list((tmp_path / "set").rglob(key))

    restored = tmp_path / "restored"
    restored_url = _restored_url(request, db_url, restored)
    restored.mkdir()
    write_config(restored, restored_url)
    (restored / "var").mkdir(mode=0o700)
    for key in KEYS:  # the operator brings the keys from where they are kept, apart from the backup
        shutil.copy2(original / "var" / key, restored / "var" / key)
    done = cli(restored, "restore", str(tmp_path / "set"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(moves with the data directory)" in done.stdout
    assert f"blobs restored and checked: {len(manifest['blobs']['items'])}" in done.stdout

    verified = cli(restored, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("ok: ")
    assert "no signing key" not in verified.stderr
    entries = int(verified.stdout.split()[1])
    assert entries >= manifest["ledger"]["tree_size"]

    restored_store = LocalBlobStore(restored / "var" / "blobs")
    for item in manifest["blobs"]["items"]:
        assert asyncio.run(restored_store.verify(item["key"], item["sha256"])) == item["size"]


SHARE_ROUTE = """
[[routes]]
code = "s1-share"
name = "共有フォルダ経由"
program = "seikatsu-hogo-tsuika"
watch_dir = "{share}"
encoding = "cp932"
targets = [{{ contract = "s1-main", connector = "outbox", password_channels = ["notice", "portal"] }}]
"""


def test_a_restored_hub_never_takes_in_or_deletes_the_originals_files(tmp_path: Path) -> None:
    original = tmp_path / "original"
    share = tmp_path / "intranet" / "inbox"
    routes = tmp_path / "share-route.toml"
    routes.write_text(SHARE_ROUTE.format(share=share), encoding="utf-8")
    original_url = f"sqlite+aiosqlite:///{original / 'var' / 'handover.db'}"
    _hub(original, original_url, routes)
    # clamd is down at the original, so its drop is queued and waits there, in progress, when the backup is taken.
    with (original / "hub.toml").open("a", encoding="utf-8") as config:
        config.write(f'[antivirus]\nclamd_socket = "{tmp_path / "no-clamd.sock"}"\n')
    hub = Hub(original)
    hub.start()
    try:
        drop_files(original, ["inside.csv"])
        original_db = Database(original_url)
        assert wait_until(lambda: original_db.statuses() == {"pending": 1}, 60), original_db.statuses()
        set_dir = tmp_path / "set"
        backup = cli(original, "backup", str(set_dir))
        assert backup.returncode == 0, backup.stderr
    finally:
        hub.stop()
    share.mkdir(parents=True, exist_ok=True)
    shutil.copy2(original / ROUTE_FOLDER / "inside.csv", share / "outside.csv")

    restored = tmp_path / "restored"
    restored.mkdir()
    write_config(restored, f"sqlite+aiosqlite:///{restored / 'var' / 'handover.db'}")
    refused = cli(restored, "restore", str(set_dir))
    assert refused.returncode == 2
    assert str(share) in refused.stderr and "--map-folder" in refused.stderr
    assert not (restored / "var" / "handover.db").exists(), "nothing is written before the folders are settled"

    # Mapping the share's parent covers the watched folder and its quarantine folder beside it.
    new_share = tmp_path / "rehearsal" / "inbox"
    done = cli(restored, "restore", str(set_dir), "--map-folder", f"{share.parent}={new_share.parent}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"route s1-share watch_dir: {new_share} (mapped)" in done.stdout
    assert f"{restored / 'var' / ROUTE_FOLDER.relative_to('var')} (moves with the data directory)" in done.stdout
    for key in KEYS:
        shutil.copy2(original / "var" / key, restored / "var" / key)

    hub = Hub(restored, "restored")
    hub.start()
    try:
        drop_files(restored, ["restored.csv"])  # the restored hub works, on its own folders
        db = Database(f"sqlite+aiosqlite:///{restored / 'var' / 'handover.db'}")
        assert wait_until(lambda: db.statuses().get("finished", 0) == 1, 120), db.statuses()
    finally:
        hub.stop()
    # The drop in progress is looked for in the restored hub's own folder, never in the original's.
    in_progress = db.rows("SELECT source_path FROM intake_files WHERE file_name = 'inside.csv'")
    assert in_progress == [(str(restored / ROUTE_FOLDER / "inside.csv"),)]
    assert db.rows("SELECT count(*) FROM packages") == [(1,)], "only the restored hub's own drop was packed"
    assert (original / ROUTE_FOLDER / "inside.csv").exists()
    assert (share / "outside.csv").exists()
    assert sorted(p.name for p in (original / ROUTE_FOLDER).iterdir()) == ["inside.csv"]
    assert sorted(p.name for p in share.iterdir()) == ["outside.csv"]
    assert new_share.is_dir(), "the restored hub watches the mapped folder"


def test_a_backup_is_refused_inside_the_data_directory_and_says_where_keys_go(tmp_path: Path) -> None:
    original = tmp_path / "original"
    _hub(original, f"sqlite+aiosqlite:///{original / 'var' / 'handover.db'}")
    refused = cli(original, "backup", str(original / "var" / "backups" / "today"))
    assert refused.returncode == 2
    assert "inside the data directory" in refused.stderr
    assert str(original / "var" / "master.key") in refused.stderr
    assert not (original / "var" / "backups").exists()


def test_without_pg_dump_postgresql_is_left_to_its_own_tooling_and_said_so(
    tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    original = tmp_path / "original"
    _hub(original, db_url)
    backup = cli(original, "backup", str(tmp_path / "set"))
    assert backup.returncode == 0, backup.stderr
    part = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))["database"]
    assert part["revision"] and part["url"] == db_url  # the URL as configured, never with a password
    if db_url.startswith("sqlite"):
        assert part["copy"] == "handover.db"  # SQLite is always copied: the online backup API is ours to run
        return
    assert part["copy"] is None and part["sha256"] is None
    assert "NOT copied" in backup.stdout and "--pg-dump" in backup.stdout
    restored = tmp_path / "restored"
    restored.mkdir()
    write_config(restored, _restored_url(request, db_url, restored))
    refused = cli(restored, "restore", str(tmp_path / "set"))
    assert refused.returncode == 2
    assert "restore it with the database's own tooling" in refused.stderr
