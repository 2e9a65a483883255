"""``handover restore SRC``: rebuild a hub from a backup set into a new data directory (and a new database).

Before anything is written the folder plan (``folder_plan``) is settled from the manifest: every route and return
folder either moves with the data directory, is mapped by the operator, or is relocated on request; anything else
refuses the restore, so a restored copy never takes in, writes into or deletes from the original's folders. Then:
the database (the SQLite copy through the backup API, or ``pg_restore`` of the dump into an empty PostgreSQL
database; without a copy, a database the operator restored with its own tooling), migrations up to this code
(folders under the original data directory become relative), the folders rewritten to the plan (and the source
paths of drops still in progress with them), the blobs put back with their hashes checked against the manifest
(or, for a bucket, read through SHA-256 where they are), and finally the ledger: its root at the backup's tree
size must be the recorded one, and the whole log must verify.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap
from exchange.blobs.registry import build_blob_store
from exchange.blobs.store import CHUNK_BYTES, BlobError, BlobStore
from exchange.folders import resolve_folder
from exchange.keys import sources
from exchange.recovery import database
from exchange.recovery.folder_plan import FolderPlan, Placement
from exchange.recovery.manifest import BLOBS_DIR, FolderEntry, Manifest
from exchange.settings import Settings
from ledger import migrate
from ledger.models import IntakeFile, IntakeStatus, Route
from ledger.models.return_folders import ReturnFolder
from ledger.tlog.proofs import prove_consistency
from ledger.tlog.sequencing import drain
from ledger.tlog.verification import VerifyResult, verify

ACTIVE = (IntakeStatus.PENDING, IntakeStatus.PACKED, IntakeStatus.DELIVERED)
# What may already be in the new data directory: the keys, put back first from where they are kept.
KEY_NAMES = frozenset({"master.key", "ledger-signing.key"})


class RestoreRefused(Exception):
    """The restore cannot go ahead; ``details`` name each problem."""

    def __init__(self, headline: str, details: list[str] | None = None) -> None:
        super().__init__(headline)
        self.details = details or []


@dataclass(frozen=True)
class PlannedFolder:
    entry: FolderEntry
    placement: Placement


@dataclass
class RestoreResult:
    blobs: int = 0
    intakes_moved: int = 0
    relocated_later: list[str] = field(default_factory=list)  # folders changed after the backup's listing
    ledger: VerifyResult | None = None
    signatures_checked: bool = False


def plan_folders(manifest: Manifest, plan: FolderPlan) -> list[PlannedFolder]:
    """Each folder of the backup and where the restored hub will find it; refuses if any has no safe place."""
    planned = [
        PlannedFolder(entry, plan.place(entry.stored, entry.owner, entry.code, entry.column))
        for entry in manifest.folders
    ]
    refused = [
        f"{p.entry.owner} {p.entry.code} {p.entry.column}: {p.entry.stored}"
        for p in planned
        if p.placement.stored is None
    ]
    if refused:
        raise RestoreRefused(
            "these folders are outside the original's data directory; a restored hub must not use the original's "
            "folders. Map each one (--map-folder OLD=NEW) or relocate them under the new data directory "
            "(--relocate-unmapped):",
            refused,
        )
    return planned


def check_target(settings: Settings, manifest: Manifest, database_url: str) -> None:
    """The new data directory holds at most the keys, and the database is not the original's."""
    data_dir = settings.data_dir.resolve()
    if data_dir.exists():
        leftovers = sorted(p.name for p in data_dir.iterdir() if p.name not in KEY_NAMES)
        if leftovers:
            raise RestoreRefused(f"{data_dir} is not empty; restore into a new data directory", leftovers[:10])
    if bootstrap.describe_database(database_url) == manifest.database.url:
        raise RestoreRefused(
            f"{manifest.database.url} is the original's database; restore into a new one (--database-url), "
            "named differently from the original's even on a new server"
        )
    if database.is_sqlite(database_url) and database.sqlite_file(database_url).exists():
        raise RestoreRefused(f"the SQLite database {database.sqlite_file(database_url)} already exists")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


async def _restore_database(source: Path, manifest: Manifest, settings: Settings) -> None:
    part = manifest.database
    url = settings.database.url
    if part.copy is None:
        # The database was the database's own job: it must already be back, at the backup's revision or later.
        async with bootstrap.open_engine(settings, require_schema=False) as engine:
            if await migrate.current_revision(engine) is None:
                raise RestoreRefused(
                    f"the backup holds no copy of the database ({part.url}); restore it with the database's own "
                    f"tooling into {bootstrap.describe_database(url)} first (revision {part.revision}), then run this"
                )
        return
    copy = source / part.copy
    if await asyncio.to_thread(_sha256_file, copy) != part.sha256:
        raise RestoreRefused(f"{copy} does not have the SHA-256 the manifest records; the backup is damaged")
    if part.kind == "sqlite":
        if not database.is_sqlite(url):
            raise RestoreRefused("the backup holds a SQLite database; give a sqlite+aiosqlite:/// --database-url")
        target = database.sqlite_file(url)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True, mode=0o700)
        await asyncio.to_thread(database.copy_sqlite, copy, target, at_rest=True)
        return
    if database.is_sqlite(url):
        raise RestoreRefused("the backup holds a PostgreSQL dump; give a postgresql+asyncpg:// --database-url")
    async with bootstrap.open_engine(settings, require_schema=False) as engine:
        if await migrate.current_revision(engine) is not None:
            raise RestoreRefused(f"{bootstrap.describe_database(url)} is not empty; restore into a new database")
    await asyncio.to_thread(database.pg_restore, copy, url)


def _replace(plan: FolderPlan, value: str, owner: str, code: str, column: str, result: RestoreResult) -> str:
    placed = plan.place(value, owner, code, column)
    if placed.stored is None:
        # Added after the backup listed the folders, and not mapped: never the original's folder.
        result.relocated_later.append(f"{owner} {code} {column}: {value}")
        placed = plan.place_or_relocate(value, owner, code, column)
    assert placed.stored is not None
    return placed.stored


async def _rewrite_folders(session: AsyncSession, plan: FolderPlan, result: RestoreResult) -> None:
    """Every folder to the plan, and the drops still in progress to their route's new watched folder."""
    routes = {route.id: route for route in (await session.execute(select(Route))).scalars()}
    for route in routes.values():
        route.watch_dir = _replace(plan, route.watch_dir, "route", route.code, "watch_dir", result)
        route.quarantine_dir = _replace(plan, route.quarantine_dir, "route", route.code, "quarantine_dir", result)
        if route.processed_dir is not None:
            route.processed_dir = _replace(plan, route.processed_dir, "route", route.code, "processed_dir", result)
    for folder in (await session.execute(select(ReturnFolder))).scalars():
        folder.path = _replace(plan, folder.path, "return_folder", folder.code, "path", result)
    active = await session.execute(
        select(IntakeFile).where(IntakeFile.status.in_(ACTIVE), IntakeFile.manual.is_(False))
    )
    for intake in active.scalars():
        # A drop still in progress is looked for in its route's new folder: finishing it removes a file there,
        # never in the original's folder.
        watch = resolve_folder(routes[intake.route_id].watch_dir, plan.data_dir)
        intake.source_path = str(watch / Path(intake.source_path).name)
        result.intakes_moved += 1


async def _restore_blobs(source: Path, manifest: Manifest, store: BlobStore) -> int:
    problems: list[str] = []
    for item in manifest.blobs.items:
        try:
            if manifest.blobs.copied:
                stored = await store.put_file(item.key, source / BLOBS_DIR / item.key)
                if (stored.sha256, stored.size) != (item.sha256, item.size):
                    await store.delete(item.key)
                    problems.append(f"{item.key}: the copy in the backup does not have the recorded hash")
            else:
                await store.verify(item.key, item.sha256)
        except (BlobError, OSError) as exc:
            problems.append(f"{item.key}: {exc}")
    if problems:
        raise RestoreRefused("some blobs could not be restored with the recorded hash:", problems[:20])
    return len(manifest.blobs.items)


async def _check_ledger(session: AsyncSession, manifest: Manifest, settings: Settings, result: RestoreResult) -> None:
    recorded = manifest.ledger
    proof = await prove_consistency(session, recorded.tree_size)
    if proof.old_root.hex() != recorded.root_hash:
        raise RestoreRefused(
            f"the restored ledger's root at {recorded.tree_size} entries is {proof.old_root.hex()}, "
            f"the backup recorded {recorded.root_hash}"
        )
    verifier = None
    try:
        verifier = (await asyncio.to_thread(sources.signing_key, settings.signing_key)).verifier
    except sources.KeyUnavailable:
        pass  # not in place yet (keys are never in a backup): the signatures are not checked, and the CLI says so
    result.signatures_checked = verifier is not None
    result.ledger = await verify(session, verifier)
    if not result.ledger.ok:
        raise RestoreRefused("the restored ledger does not verify:", [result.ledger.summary()])


def _connector_folders(settings: Settings) -> None:
    """The connectors' local folders, as ``init`` makes them (``init`` itself would make new keys: not here)."""
    for connector in settings.connectors.values():
        for folder in connector.local_folders():
            folder.mkdir(parents=True, exist_ok=True)


async def restore(source: Path, manifest: Manifest, settings: Settings, plan: FolderPlan) -> RestoreResult:
    """Rebuild the hub ``settings`` describe from the backup set ``source`` (checked and planned by the caller)."""
    result = RestoreResult()
    await asyncio.to_thread(settings.data_dir.mkdir, parents=True, exist_ok=True, mode=0o700)
    store = await asyncio.to_thread(build_blob_store, settings)
    try:
        if manifest.blobs.copied:
            async for key in store.keys():
                raise RestoreRefused(f"the blob store already holds blobs ({key}, …); restore into an empty one")
        await _restore_database(source, manifest, settings)
        await _migrate_and_rewrite(settings, plan, result)
        await asyncio.to_thread(_connector_folders, settings)
        result.blobs = await _restore_blobs(source, manifest, store)
    finally:
        await store.close()
    async with bootstrap.open_engine(settings) as engine, bootstrap.sessions(engine)() as session:
        await drain(session)  # lines the original had committed but not yet sequenced when it was copied
        await _check_ledger(session, manifest, settings, result)
    return result


async def _migrate_and_rewrite(settings: Settings, plan: FolderPlan, result: RestoreResult) -> None:
    async with bootstrap.open_engine(settings, require_schema=False) as engine:
        # Folders the original kept absolute under its data directory (before 0024) become relative here.
        await migrate.upgrade(engine, data_dir=plan.original_data_dir)
        async with bootstrap.sessions(engine).begin() as session:
            await _rewrite_folders(session, plan, result)
