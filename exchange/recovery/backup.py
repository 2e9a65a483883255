"""``handover backup DEST``: one consistent set of what a hub needs to be rebuilt, keys excepted.

Order: the database first (SQLite through the online backup API, or ``pg_dump``; the ledger's tree size and root
hash, the Alembic revision and the folders are read from that same state), then every blob the store lists, each
with its size and SHA-256 (the local backend's files are copied and the copy hashed again). A blob written after
the database copy is in the set but not referenced; one deleted meanwhile (retention) is left out and counted.
The recovery point is therefore the moment of the database copy.

The master key and the ledger signing key never go into the set: a set next to the keys could be carried off
with them, so DEST inside the data directory (or beside a key) is refused, and the command says where the keys
must be backed up instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap
from exchange.blobs.local import LocalBlobStore
from exchange.blobs.registry import build_blob_store
from exchange.blobs.store import CHUNK_BYTES, BlobMissing, BlobStore
from exchange.keys import sources
from exchange.recovery import database
from exchange.recovery.manifest import (
    BLOBS_DIR,
    BlobEntry,
    BlobsPart,
    DatabasePart,
    FolderEntry,
    LedgerPart,
    Manifest,
)
from exchange.settings import Settings
from ledger import migrate
from ledger.db import create_engine, session_factory
from ledger.files import AtomicFile, write_atomic
from ledger.models import Route
from ledger.models.return_folders import ReturnFolder
from ledger.tlog.proofs import prove_consistency

README = """handover backup set
===================

manifest.json   what this set holds: database copy or URL and Alembic revision, the ledger's tree size and
                root hash, every blob (key, size, SHA-256), the route and return folders, where the keys live
handover.db     the SQLite database (online backup API), when the hub runs on SQLite
database.dump   the PostgreSQL database (pg_dump, custom format), when taken with --pg-dump
blobs/          the blobs themselves, when the hub keeps them in a local folder

Not in this set, on purpose:
- the master key and the ledger signing key: back them up separately (offline media in a safe), never beside
  this set; without the master key nothing sealed in the database or the blobs can be read
- a PostgreSQL database taken without --pg-dump: it is the database's own job (base backups and WAL archiving,
  point-in-time recovery); the manifest records its URL (without password) and the Alembic revision
- blobs in S3-compatible storage: the manifest lists them with their hashes; keeping them (bucket versioning,
  replication) is the bucket's job

Rebuild a hub: handover restore THIS_FOLDER --data-dir NEW_DATA_DIR (see the README's "Backup and restore").
"""


class BackupRefused(Exception):
    """The backup cannot be taken as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    manifest: Manifest
    vanished: int  # blobs listed but deleted before they could be read (retention running meanwhile)


def _check_destination(settings: Settings, dest: Path, store: BlobStore) -> Path:
    """DEST absolute and new, and nowhere near the keys, the data directory or the blob folder."""
    target = dest.resolve()
    if target.exists():
        raise BackupRefused(f"{target} already exists; give a new folder for each backup")
    guarded = {
        "the data directory": settings.data_dir.resolve(),
    }
    for name, ref in (
        ("the master key's folder", settings.master_key),
        ("the signing key's folder", settings.signing_key),
    ):
        if ref.file is not None:
            guarded[name] = ref.file.resolve().parent
    if isinstance(store, LocalBlobStore):
        guarded["the blob folder"] = store.root
    for what, folder in guarded.items():
        if target.is_relative_to(folder):
            raise BackupRefused(
                f"{target} is inside {what} ({folder}), next to the keys; write the backup to another disk or "
                "folder, and back up the keys separately"
            )
    target.mkdir(parents=True, mode=0o700)
    (target / BLOBS_DIR).mkdir(mode=0o700)
    return target


async def _read_state(session: AsyncSession) -> tuple[LedgerPart, list[FolderEntry]]:
    proof = await prove_consistency(session, 0)
    folders: list[FolderEntry] = []
    for route in (await session.execute(select(Route).order_by(Route.code))).scalars():
        for column in ("watch_dir", "quarantine_dir", "processed_dir"):
            value = getattr(route, column)
            if value is not None:
                folders.append(FolderEntry("route", route.code, column, value))
    for folder in (await session.execute(select(ReturnFolder).order_by(ReturnFolder.code))).scalars():
        folders.append(FolderEntry("return_folder", folder.code, "path", folder.path))
    return LedgerPart(proof.new_size, proof.new_root.hex()), folders


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


async def _database(
    settings: Settings, target: Path, pg_dump: bool
) -> tuple[DatabasePart, LedgerPart, list[FolderEntry]]:
    url = settings.database.url
    shown = bootstrap.describe_database(url)
    if database.is_sqlite(url):
        copy = target / database.SQLITE_NAME
        await asyncio.to_thread(database.copy_sqlite, database.sqlite_file(url), copy)
        # Everything else is read from the copy itself, so it describes exactly the state that was copied.
        engine = create_engine(f"sqlite+aiosqlite:///{copy}")
        try:
            revision = await migrate.current_revision(engine)
            async with session_factory(engine)() as session:
                ledger, folders = await _read_state(session)
        finally:
            await engine.dispose()
        sha256 = await asyncio.to_thread(_sha256_file, copy)
        return DatabasePart("sqlite", shown, revision, copy.name, sha256), ledger, folders
    async with bootstrap.open_engine(settings) as engine:
        revision = await migrate.current_revision(engine)
        async with bootstrap.sessions(engine)() as session:
            # Read before the dump starts: the ledger only grows, so the dump holds at least this tree.
            ledger, folders = await _read_state(session)
    if not pg_dump:
        return DatabasePart("postgresql", shown, revision, None, None), ledger, folders
    dump = target / database.DUMP_NAME
    await asyncio.to_thread(database.pg_dump, url, dump)
    sha256 = await asyncio.to_thread(_sha256_file, dump)
    return DatabasePart("postgresql", shown, revision, dump.name, sha256), ledger, folders


async def _copy_blob(store: BlobStore, key: str, path: Path) -> BlobEntry:
    """Copy one blob to ``path`` while hashing it, then hash the written file again: the copy is checked."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True, mode=0o700)
    pending = await asyncio.to_thread(AtomicFile, path, exclusive=True)
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in store.read(key):
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(pending.file.write, chunk)
        await asyncio.to_thread(pending.commit)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(pending.discard))
        raise
    if await asyncio.to_thread(_sha256_file, path) != digest.hexdigest():
        raise BackupRefused(f"the copy of blob {key} does not read back with the hash it was written with")
    return BlobEntry(key, size, digest.hexdigest())


async def _hash_blob(store: BlobStore, key: str) -> BlobEntry:
    digest, size = hashlib.sha256(), 0
    async for chunk in store.read(key):
        digest.update(chunk)
        size += len(chunk)
    return BlobEntry(key, size, digest.hexdigest())


async def _blobs(store: BlobStore, target: Path) -> tuple[BlobsPart, int]:
    copied = store.kind == "local"
    items: list[BlobEntry] = []
    vanished = 0
    async for key in store.keys():
        try:
            if copied:
                items.append(await _copy_blob(store, key, target / BLOBS_DIR / key))
            else:
                items.append(await _hash_blob(store, key))
        except BlobMissing:
            vanished += 1  # deleted since the listing (retention): not in the database copy's future either
    return BlobsPart(store.kind, copied, sorted(items, key=lambda item: item.key)), vanished


async def take_backup(settings: Settings, dest: Path, *, pg_dump: bool = False) -> BackupResult:
    """Write a backup set into the new folder ``dest``; see the module docstring for what it holds."""
    store = await asyncio.to_thread(build_blob_store, settings)  # the local backend makes its folder
    try:
        target = await asyncio.to_thread(_check_destination, settings, dest, store)
        created_at = datetime.now(UTC).isoformat()
        db_part, ledger, folders = await _database(settings, target, pg_dump)
        blobs, vanished = await _blobs(store, target)
        data_dir = await asyncio.to_thread(settings.data_dir.resolve)
        keys = {
            "master_key": sources.where("keys.master", settings.master_key),
            "signing_key": sources.where("keys.signing", settings.signing_key),
        }
        manifest = Manifest(created_at, str(data_dir), db_part, ledger, blobs, folders, keys)
        await asyncio.to_thread(manifest.write, target)
        await asyncio.to_thread(write_atomic, target / "README.txt", README, exclusive=True)
        await asyncio.to_thread(os.chmod, target, 0o700)
        return BackupResult(manifest, vanished)
    finally:
        await store.close()
