"""The durable path of a dropped file: take in, check, minimise, pack, deliver, finish — or quarantine.

Each intake row moves PENDING → PACKED → DELIVERED → FINISHED (or → QUARANTINED). A worker task claims a row with
a lease under its own holder name (``exchange.leases``, shared with the duties), performs the one step its status
calls for while a heartbeat renews the lease, and commits the new status and the lease's release together with the
step's register entries. Every commit is fenced on the claim's generation: a worker whose lease lapsed (and was
taken over) commits nothing, and removes only its own claim's work folder. Every step can run again after a
crash: packing writes a new folder per claim, connectors' ``put`` is idempotent, and finishing tolerates a source
that is already gone.

Packing ends by putting each sealed ZIP into the hub's blob store (under a key made from the new package's id, so
no other claim's blob is ever touched) before the fenced commit, and removing the claim's folder; delivery takes
the ZIP from the blob store as a local file for the connector, checked against the package's recorded SHA-256.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.base import Connector, ConnectorError, StoredObject, VerificationError
from exchange.blobs.store import BlobCorrupt, BlobError, BlobMissing, BlobStore
from exchange.delivery import package_blobs
from exchange.delivery.endpoint_access import sync_access
from exchange.folders import RouteFolders
from exchange.intake import preparation
from exchange.intake import results as outcome
from exchange.intake.sealed_quarantine import QuarantineVault, SealedSource
from exchange.intake.stability import Ready, identity_of
from exchange.leases import Claim, Hold, LeaseLost, Leases, LeaseTable
from exchange.logs import correlated
from ledger.models import Contract, IntakeFile, IntakeStatus, Package, PackageStatus, Route, RouteTarget
from ledger.models.base import utcnow
from ledger.registers.handover import record
from policies.errors import PolicyRefusal, RefusalCode

log = logging.getLogger(__name__)

ACTIVE = (IntakeStatus.PENDING, IntakeStatus.PACKED, IntakeStatus.DELIVERED)
# Far in the future: a row whose delivery failed for good waits for staff, not for a retry.
STAFF_HOLD = datetime(9999, 1, 1, tzinfo=UTC)
INTAKE_LEASES = LeaseTable(
    IntakeFile, IntakeFile.id, IntakeFile.lease_owner, IntakeFile.lease_until, IntakeFile.lease_generation
)
KNOWN_CHUNK = 500  # identities per ``IN (…)`` list: well under SQLite's bound-parameter limit
CLAIM_DIR = "claim-"  # store/<intake>/claim-<generation>: one work folder per claim


@dataclass(frozen=True)
class PipelineConfig:
    store_dir: Path
    lease: timedelta = timedelta(seconds=15)  # the hub takes it from ``intake.lease_seconds``
    max_attempts: int = 3  # on the primary connector, before the fallback takes over
    retry_base: timedelta = timedelta(seconds=5)
    deflate_level: int = 6
    # Where a package is copied out of a remote blob store for a connector; by default ``cache`` beside the store.
    cache_dir: Path | None = None
    # What relative route folders resolve against (absolute); by default the store's parent, the data directory.
    data_dir: Path | None = None


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Mapping[str, Connector],
        preparer: preparation.Preparer,
        config: PipelineConfig,
        *,
        blobs: BlobStore,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.connectors = connectors
        self.preparer = preparer
        self.config = config
        self.clock = clock
        # Each worker task claims under its own holder name (``worker``): this process's name and a number.
        self.leases = Leases(INTAKE_LEASES, f"worker-{uuid.uuid4().hex[:8]}", config.lease, clock)
        # Refused drops are kept sealed in the blob store, where every hub process can decide about them.
        self.vault = QuarantineVault(blobs, preparer.keyring)
        self._workers = itertools.count(1)

    async def enqueue(self, route: Route, ready: Ready) -> IntakeFile | None:
        """Record a ready drop once; None when it is gone, changed since the listing, or already taken in.

        The drop is known by its identity (device, inode, size, mtime, ctime), guarded by a unique index, so a stale
        listing of a file a worker has just finished cannot queue it again; a path still active is not queued
        twice either. A name that is not valid UTF-8 never reaches the database: the drop is set aside at once.
        """
        now_identity = await asyncio.to_thread(_identity_now, ready.path)
        if now_identity != ready.identity:
            return None  # vanished since the listing (or still changing: the next look settles it)
        shown = outcome.display_name(ready.path.name)
        async with self.sessions() as session:
            try:
                async with session.begin():
                    existing = (
                        await session.execute(
                            select(IntakeFile.id).where(
                                IntakeFile.route_id == route.id,
                                or_(
                                    IntakeFile.source_identity == ready.identity,
                                    and_(
                                        IntakeFile.source_path == str(ready.path.parent / shown),
                                        IntakeFile.status.in_(ACTIVE),
                                    ),
                                ),
                            )
                        )
                    ).first()
                    if existing is not None:
                        return None
                    row = IntakeFile(
                        route_id=route.id,
                        source_path=str(ready.path.parent / shown),
                        file_name=shown,
                        size=ready.size,
                        source_identity=ready.identity,
                    )
                    session.add(row)
                    await session.flush()
                    if shown != ready.path.name:
                        await self._set_aside_bad_name(session, row, route, ready.path)
                    elif ready.is_dir:
                        row.reason_code = "intake.not_a_file"
                        row.reason_ja = "フォルダやリンクは受け付けません。ファイルを1つずつ置いてください。"
                    return row
            except IntegrityError:
                return None  # another hub process (or worker) queued it first

    async def enqueue_many(self, route: Route, items: list[Ready]) -> tuple[list[IntakeFile], list[Ready]]:
        """Record many ready drops in one transaction (a burst of drops is queued in a few commits, not one per
        file): the rows queued, and the drops left to ``enqueue`` one by one (an odd name, a folder or link).

        The same rules as ``enqueue``: a drop changed or gone since the listing, or already known by identity or
        by an active row of the same path, is not queued. When another process queues one of them meanwhile (the
        unique index), nothing of this batch commits and every drop is left to ``enqueue``.
        """
        plain = [item for item in items if not item.is_dir and outcome.display_name(item.path.name) == item.path.name]
        left = [item for item in items if item not in plain]
        now = await asyncio.to_thread(lambda: [_identity_now(item.path) for item in plain])
        plain = [item for item, identity in zip(plain, now, strict=True) if identity == item.identity]
        if not plain:
            return [], left
        async with self.sessions() as session:
            try:
                async with session.begin():
                    known = await session.execute(
                        select(IntakeFile.source_identity, IntakeFile.source_path).where(
                            IntakeFile.route_id == route.id,
                            or_(
                                IntakeFile.source_identity.in_([item.identity for item in plain]),
                                and_(
                                    IntakeFile.source_path.in_([str(item.path) for item in plain]),
                                    IntakeFile.status.in_(ACTIVE),
                                ),
                            ),
                        )
                    )
                    identities, paths = set(), set()
                    for identity, path in known:
                        identities.add(identity)
                        paths.add(path)
                    rows = [
                        IntakeFile(
                            route_id=route.id,
                            source_path=str(item.path),
                            file_name=item.path.name,
                            size=item.size,
                            source_identity=item.identity,
                        )
                        for item in plain
                        if item.identity not in identities and str(item.path) not in paths
                    ]
                    session.add_all(rows)
                    await session.flush()
                    return rows, left
            except IntegrityError:
                return [], left + plain  # another hub process (or worker) queued one of them first

    async def known_identities(self, route: Route, identities: list[str]) -> set[str]:
        """Which of these drops ``route`` has already taken in (any state): a rescan passes them over without a
        transaction each, so a folder holding a long queue costs one query per look, not one per file."""
        known: set[str] = set()
        async with self.sessions() as session:
            for start in range(0, len(identities), KNOWN_CHUNK):
                chunk = identities[start : start + KNOWN_CHUNK]
                rows = await session.execute(
                    select(IntakeFile.source_identity).where(
                        IntakeFile.route_id == route.id, IntakeFile.source_identity.in_(chunk)
                    )
                )
                known.update(identity for identity in rows.scalars() if identity is not None)
        return known

    async def _set_aside_bad_name(self, session: AsyncSession, row: IntakeFile, route: Route, raw: Path) -> None:
        """Quarantine a drop whose name cannot be stored or shown, in the transaction that records it."""
        row.reason_code = "intake.bad_name"
        row.reason_ja = (
            "ファイル名に使えない文字（文字化けした名前）が含まれています。"
            "ファイル名を全角・半角の通常の文字に付け直して、もう一度置いてください。"
        )
        row.sealed_key = await outcome.set_aside(
            self.folders(route),
            raw,
            row.file_name,
            row.public_id,
            row.reason_ja,
            vault=self.vault,
            identity=row.source_identity,
        )
        log.warning("a file with an undecodable name in route %s was quarantined", route.code)
        row.status = IntakeStatus.QUARANTINED
        row.finished_at = self.clock()
        contracts = (
            await session.execute(select(Contract.public_id).join(RouteTarget).where(RouteTarget.route_id == route.id))
        ).scalars()
        await record(session, outcome.quarantined_entry(row, list(contracts), row.reason_code, row.reason_ja))

    async def enqueue_manual(self, route: Route, path: Path) -> int:
        """Queue a file named on the command line; it is processed only by ``run_to_end``."""
        info = await asyncio.to_thread(path.stat)
        source = await asyncio.to_thread(path.absolute)
        async with self.sessions.begin() as session:
            row = IntakeFile(
                route_id=route.id,
                source_path=str(source),
                file_name=path.name,
                size=info.st_size,
                manual=True,
                # Far future: background workers leave it to the operator's own command.
                next_attempt_at=datetime(9999, 1, 1, tzinfo=UTC),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def run_to_end(self, row_id: int) -> IntakeFile:
        """Step one row until it is finished, quarantined, or waiting for a retry; return its final state."""
        leases = self.worker()
        while True:
            async with self.sessions.begin() as session:
                claim = await leases.claim(session, row_id, self.clock())
            if claim is not None:
                await self.step(claim)
            async with self.sessions() as session:
                row = await session.get(IntakeFile, row_id)
                assert row is not None
                if claim is None or row.status not in ACTIVE or row.attempts > 0:
                    return row

    def folders(self, route: Route) -> RouteFolders:
        """The route's folders, relative ones resolved against the data directory."""
        return RouteFolders.of(route, self.config.data_dir or self.config.store_dir.parent)

    def worker(self) -> Leases[int]:
        """The leases of one more worker task, under a holder name of its own."""
        return self.leases.named(f"{self.leases.holder}-{next(self._workers)}")

    async def claim(self, leases: Leases[int]) -> Claim[int] | None:
        """Take the lease on the next due row for ``leases``' holder; None when there is no work."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            query = (
                select(IntakeFile.id)
                .where(
                    IntakeFile.status.in_(ACTIVE),
                    IntakeFile.next_attempt_at <= now,
                    leases.free(now),
                )
                .order_by(IntakeFile.id)
                .limit(1)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row_id = (await session.execute(query)).scalar_one_or_none()
            if row_id is None:
                return None
            return await leases.claim(session, row_id, now)

    async def run_once(self, leases: Leases[int] | None = None) -> bool:
        """Perform one step of one row as the worker ``leases`` (a new one if not given); False when nothing was due."""
        claim = await self.claim(leases or self.worker())
        if claim is None:
            return False
        await self.step(claim)
        return True

    async def drain(self) -> None:
        leases = self.worker()
        while await self.run_once(leases):
            pass

    async def step(self, claim: Claim[int]) -> None:
        """Perform the row's next step under ``claim``: renewed while it runs, committed only while still held.

        A claim lost on the way (taken over after it lapsed, or not renewed in time) is logged and its step
        abandoned: nothing of it commits, and the next holder does the step again.
        """
        try:
            await self.leases.hold(self.sessions, claim, self._step)
        except LeaseLost as lost:
            log.warning("intake %s: claim %d (%s) lost; its step is not committed: %s", *_about(claim), lost)

    async def _load(self, row_id: int) -> IntakeFile:
        """The row and everything its steps read, in a session that is closed again (nothing is held meanwhile)."""
        async with self.sessions() as session:
            intake = await session.get(
                IntakeFile,
                row_id,
                options=[
                    selectinload(IntakeFile.route)
                    .selectinload(Route.targets)
                    .selectinload(RouteTarget.contract)
                    .selectinload(Contract.party),
                    selectinload(IntakeFile.packages),
                ],
            )
            assert intake is not None
            return intake

    async def _step(self, held: Hold[int]) -> None:
        intake = await self._load(held.claim.key)
        with correlated(intake.public_id):
            if intake.reason_code is not None and intake.status == IntakeStatus.PENDING:
                await self._quarantine(held, intake, intake.reason_code, intake.reason_ja or "")
            elif intake.status == IntakeStatus.PENDING:
                await self._pack(held, intake)
            elif intake.status == IntakeStatus.PACKED:
                await self._deliver(held, intake)
            elif intake.status == IntakeStatus.DELIVERED:
                await self._finish(held, intake)

    async def _commit(
        self, session: AsyncSession, held: Hold[int], intake: IntakeFile, *, retry_in: timedelta | None = None
    ) -> None:
        """The step's last commit: its writes and the release of the claim, fenced on the claim in one transaction.

        After a failure the row's retry is scheduled too. LeaseLost (rolled back) when the claim is no longer held.
        """
        if retry_in is not None:
            intake.attempts += 1
            intake.next_attempt_at = self.clock() + retry_in
        async with held.commit_phase():
            try:
                await self.leases.release(session, held.claim)
                await session.commit()
                held.released = True
            except LeaseLost:
                await session.rollback()
                raise

    async def _commit_keeping(self, session: AsyncSession, held: Hold[int]) -> None:
        """A commit in the middle of a step: fenced on the claim, which stays held (and is renewed)."""
        async with held.commit_phase():
            try:
                await self.leases.fence(session, held.claim)
                await session.commit()
            except LeaseLost:
                await session.rollback()
                raise

    async def _confirm(self, held: Hold[int]) -> None:
        """Renew the claim, fenced, just before a side effect that cannot be undone (moving or removing the
        dropped file, handing a package to a connector): a lapsed holder stops here, and a held lease now lasts
        one more duration, so no other claim can start the same side effect meanwhile."""
        async with self.sessions() as session:
            await self._commit_keeping(session, held)

    def _backoff(self, attempts: int) -> timedelta:
        return self.config.retry_base * float(2 ** min(attempts, 8))

    def _work_dir(self, intake: IntakeFile, claim: Claim[int]) -> Path:
        """The claim's own folder: no other claim writes into it, and none removes it while the claim may live."""
        return self.config.store_dir / intake.public_id / f"{CLAIM_DIR}{claim.generation}"

    # Each step reads in a short session (``_load``), does its slow work holding no connection, and then writes in
    # a new session: one fenced commit carries the new status together with its register lines.

    async def _pack(self, held: Hold[int], intake: IntakeFile) -> None:
        source = Path(intake.source_path)
        work = self._work_dir(intake, held.claim)
        sealed: list[str] = []

        async def seal_refused(private: Path) -> None:
            try:
                sealed.append(await self.vault.seal_copy(private, intake.public_id))
            except (OSError, BlobError) as exc:
                # The drop is still in the watched folder: the quarantine sets it aside as it can (never lost).
                log.warning("a refused file's private copy could not be sealed (%s)", type(exc).__name__)

        prepared: preparation.Prepared | None = None
        try:
            prepared = await self.preparer.prepare(
                self.sessions,
                intake,
                source,
                work,
                sealed_source=await self._released_source(intake),
                seal_refused=None if intake.manual else seal_refused,
            )
            # Into the shared blob store before the fenced commit: a row that commits names a blob that is there.
            for item in prepared.packages:
                await package_blobs.keep(self.blobs, item.package, item.packed)
        except PolicyRefusal as refusal:
            await _discard(work)
            await self._quarantine(held, intake, refusal.code.value, refusal.reason, sealed[0] if sealed else None)
            return
        except (OSError, BlobError) as exc:
            await self._forget(prepared)
            await _discard(work)
            await self._retry_pack(held, intake, exc)
            return
        except BaseException:  # stopped (the lease is lost, the hub stops) or failed: this claim's files go
            await self._forget(prepared)
            await _discard(work)
            raise
        await _discard(work)  # the local working copies: every package is in the blob store now
        try:
            async with self.sessions() as session:
                session.add(intake)
                intake.sha256 = prepared.source_sha256
                intake.reason_ja = None
                for item in prepared.packages:
                    item.package.intake_id = intake.id
                    session.add(item.package)
                    await session.flush()
                    await record(session, item.register_entry())
                intake.status = IntakeStatus.PACKED
                await self._commit(session, held, intake)
        except LeaseLost:
            await self._forget(prepared)  # rolled back: the packages of this claim were never recorded
            raise
        await self._sweep_dead_claims(intake, held.claim)

    async def _retry_pack(self, held: Hold[int], intake: IntakeFile, exc: OSError | BlobError) -> None:
        """Reading the drop or storing its packages failed for now: keep the row, and try again later."""
        log.warning("packing an intake file failed (%s); will retry", type(exc).__name__)
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "データの保管領域に書き込めませんでした"
        async with self.sessions() as session:
            session.add(intake)
            intake.reason_ja = f"処理を保留しています（{reason}）。自動で再試行します。"
            await self._commit(session, held, intake, retry_in=self._backoff(intake.attempts))
        await self._sweep_dead_claims(intake, held.claim)

    async def _forget(self, prepared: preparation.Prepared | None) -> None:
        """Delete the blobs this claim stored for packages that are not recorded (their ids are this claim's own)."""
        for item in prepared.packages if prepared is not None else ():
            try:
                await asyncio.shield(self.blobs.delete(item.package.blob_key))
            except BlobError as exc:
                log.warning("the unrecorded package blob %s was not deleted: %s", item.package.blob_key, exc)

    async def _released_source(self, intake: IntakeFile) -> SealedSource | None:
        """The sealed drop a staff release re-queued as ``intake``; None for a drop from the watched folder."""
        if intake.released_from_id is None:
            return None
        async with self.sessions() as session:
            origin = await session.get(IntakeFile, intake.released_from_id)
        if origin is None or origin.sealed_key is None:
            missing = "再受付する隔離ファイルが見つかりません（破棄済みのおそれ）。"
            raise PolicyRefusal(RefusalCode.UNUSABLE_FILE, missing)
        return SealedSource(self.vault, origin.sealed_key, origin.public_id)

    async def _settle_origin(self, session: AsyncSession, intake: IntakeFile) -> str | None:
        """For a released intake that reached its end: the quarantined intake's sealed file is no longer needed
        (the content was delivered, or is sealed again under this intake). Returns its key, for erasing after
        commit."""
        if intake.released_from_id is None:
            return None
        origin = await session.get(IntakeFile, intake.released_from_id)
        if origin is None or origin.sealed_key is None:
            return None
        done, origin.sealed_key = origin.sealed_key, None
        return done

    async def _sweep_dead_claims(self, intake: IntakeFile, claim: Claim[int]) -> None:
        """Remove the work folders of earlier claims of this row, once this claim's packing step has committed.

        An earlier claim's lease was over before this one could be won (and its holder stopped itself before
        that), so its folder belongs to nobody; a later claim's folder is left alone, it may be in use.
        """

        def sweep() -> None:
            for folder in (self.config.store_dir / intake.public_id).glob(f"{CLAIM_DIR}*"):
                generation = folder.name.removeprefix(CLAIM_DIR)
                if generation.isdigit() and int(generation) < claim.generation:
                    log.info("removing the work folder of lapsed claim %s of intake %s", generation, intake.public_id)
                    shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # the row's folder itself, once no claim's folder is left in it
                (self.config.store_dir / intake.public_id).rmdir()

        await asyncio.to_thread(sweep)

    async def _deliver(self, held: Hold[int], intake: IntakeFile) -> None:
        async with self.sessions() as session:
            session.add(intake)
            packages = list(
                (
                    await session.execute(
                        select(Package)
                        .where(Package.intake_id == intake.id)
                        .options(selectinload(Package.contract), selectinload(Package.route_target))
                    )
                ).scalars()
            )
            await session.commit()  # ends the read: no connection is held while a connector works
            waiting = False
            for package in packages:
                if package.status == PackageStatus.SEALED:
                    await self._confirm(held)
                    delivered = await self._deliver_package(session, held, package)
                    waiting = waiting or (not delivered and package.status == PackageStatus.SEALED)
            failed = [p for p in packages if p.status == PackageStatus.FAILED]
            if failed:
                # Told at once, while other packages may still be retrying; rewriting the same result is harmless.
                await self._confirm(held)
                await asyncio.to_thread(outcome.write_failed_result, intake, self.folders(intake.route), failed)
            if waiting:
                await self._commit(session, held, intake, retry_in=self._backoff(intake.attempts))
            elif failed:
                # Parked until staff queue the delivery again (the resend on the staff page wakes the row).
                intake.reason_ja = outcome.failed_reason(failed)
                await self._commit(session, held, intake, retry_in=STAFF_HOLD - self.clock())
            else:
                intake.status = IntakeStatus.DELIVERED
                await self._commit(session, held, intake)

    def _channel_for(self, package: Package) -> str:
        target = package.route_target
        fallback = target.fallback_connector if target else None
        if fallback and package.attempts >= self.config.max_attempts:
            return fallback
        return package.connector

    async def _deliver_package(self, session: AsyncSession, held: Hold[int], package: Package) -> bool:
        """Deliver and verify one package; its outcome is committed at once, so a crash repeats nothing.

        After an unknown outcome (``may_be_stored``) the copy is noted in ``other_copies`` first; the next attempt
        asks those endpoints whether the package is there (and verifies it) before uploading anywhere, and a copy
        that cannot be ruled out stays noted, so retention deletes it even when the fallback delivered.
        A permanent error (``retryable=False``) moves to the fallback at once, or, on the last channel, fails
        the package for staff.
        """
        channel = self._channel_for(package)
        connector = self.connectors.get(channel)
        try:
            async with self._local_file(package) as packed:
                found = await self._find_earlier_copy(package, packed)
                if found is not None:
                    channel, connector, stored = found
                elif connector is None:
                    raise ConnectorError(f"接続先「{channel}」が設定されていません。", retryable=False)
                else:
                    metadata = {"package_id": package.public_id}
                    stored = await connector.put(package.contract.code, package.zip_name, packed, metadata)
                    await connector.verify(stored, size=package.size, sha256=package.sha256)
            await sync_access(session, {channel: connector}, package.contract)
        except ConnectorError as exc:
            package.attempts += 1
            package.last_error = f"{channel}: {exc.reason_ja}"
            log.warning(
                "delivery of package %s via %s failed (attempt %d, retryable %s, may be stored %s)",
                package.public_id,
                channel,
                package.attempts,
                exc.retryable,
                exc.may_be_stored,
            )
            if exc.may_be_stored:
                _note_copy(package, channel)
            target = package.route_target
            fallback = target.fallback_connector if target is not None else None
            if fallback is not None and fallback != channel and channel == package.connector:
                if not exc.retryable:
                    package.attempts = max(package.attempts, self.config.max_attempts)  # no use trying again
                if package.attempts == self.config.max_attempts or not exc.retryable:
                    await record(session, outcome.fallback_entry(package, channel))
            elif not exc.retryable:
                package.status = PackageStatus.FAILED
                await record(session, outcome.failed_entry(package, channel, exc.reason_ja))
            await self._commit_keeping(session, held)
            return False
        package.status = PackageStatus.DELIVERED
        package.delivered_via = channel
        package.delivered_at = self.clock()
        package.last_error = None
        package.location = {"connector": stored.connector, "folder": stored.folder, "location": stored.location}
        package.other_copies = [c for c in package.other_copies or [] if c["connector"] != channel] or None
        await record(session, outcome.delivered_entry(package, channel))
        await self._commit_keeping(session, held)
        return True

    @contextlib.asynccontextmanager
    async def _local_file(self, package: Package) -> AsyncIterator[Path]:
        """The package's ZIP as a local file for the connectors, from the blob store (hash checked); a store that
        cannot give it is a ConnectorError, so the delivery is retried or, for a blob that is gone or changed,
        failed with the reason for staff."""
        cache_dir = self.config.cache_dir or self.config.store_dir.parent / "cache"
        handed = False  # what the connector raises while it works with the file is not the store's failure
        try:
            async with package_blobs.local_file(self.blobs, package, cache_dir) as path:
                handed = True
                yield path
        except (BlobMissing, BlobCorrupt) as exc:
            if handed:
                raise
            log.error("package %s cannot be delivered: %s", package.public_id, exc)
            reason = "ハブの保管領域にあるデータファイルが見つからないか、記録と一致しません（改ざん・破損のおそれ）。"
            raise ConnectorError(f"{reason}情報システム担当に連絡してください。", retryable=False) from None
        except (BlobError, OSError) as exc:
            if handed:
                raise
            log.warning("package %s could not be read from the blob store (%s)", package.public_id, exc)
            reason = "ハブの保管領域からデータを読み出せませんでした。自動で再試行します。"
            raise ConnectorError(reason, retryable=True) from None

    async def _find_earlier_copy(self, package: Package, packed: Path) -> tuple[str, Connector, StoredObject] | None:
        """A verified copy left by an attempt whose answer was lost; copies proven absent are struck off.

        A found copy stays noted until the delivery there is committed, so a failure after this leaves it known.
        """
        kept: list[dict[str, Any]] = []
        found: tuple[str, Connector, StoredObject] | None = None
        for copy in package.other_copies or []:
            connector = self.connectors.get(copy["connector"])
            if found is not None or connector is None:
                kept.append(copy)
                continue
            try:
                stored = await connector.locate(copy["folder"], package.zip_name, packed)
                if stored is None:
                    continue  # proven absent
                await connector.verify(stored, size=package.size, sha256=package.sha256)
            except VerificationError:
                # Something else under that name (an upload commits only verified content): not ours to delete.
                log.warning("package %s: %s holds other content under its name", package.public_id, copy["connector"])
                continue
            except ConnectorError:
                kept.append(copy)  # cannot tell now: it stays noted, for the next attempt and for retention
                continue
            log.info("package %s was found at %s after a lost answer", package.public_id, copy["connector"])
            kept.append(copy)
            found = (copy["connector"], connector, stored)
        package.other_copies = kept or None
        return found

    async def _finish(self, held: Hold[int], intake: IntakeFile) -> None:
        async with self.sessions() as session:
            session.add(intake)
            packages = list(
                (
                    await session.execute(
                        select(Package).where(Package.intake_id == intake.id).options(selectinload(Package.contract))
                    )
                ).scalars()
            )
            await session.commit()  # ends the read before the file work
            route = intake.route
            await self._confirm(held)
            await asyncio.to_thread(outcome.write_delivered_result, intake, self.folders(route), packages)
            await asyncio.to_thread(outcome.remove_original, intake, self.folders(route))
            intake.status = IntakeStatus.FINISHED
            intake.finished_at = self.clock()
            await record(session, outcome.finished_entry(intake, packages))
            origin_file = await self._settle_origin(session, intake)
            await self._commit(session, held, intake)
        if origin_file is not None:
            await self.vault.erase(origin_file)  # after the commit: a failed commit is retried from it

    async def _quarantine(
        self, held: Hold[int], intake: IntakeFile, code: str, reason_ja: str, sealed: str | None = None
    ) -> None:
        route = intake.route
        await self._confirm(held)
        kept = await outcome.move_to_quarantine(intake, self.folders(route), reason_ja, self.vault, sealed)
        origin_file = None
        async with self.sessions() as session:
            session.add(intake)
            intake.status = IntakeStatus.QUARANTINED
            intake.reason_code = code
            intake.reason_ja = reason_ja
            intake.finished_at = self.clock()
            intake.sealed_key = kept
            if kept is not None:
                origin_file = await self._settle_origin(session, intake)
            contract_ids = [t.contract.public_id for t in route.targets]
            await record(session, outcome.quarantined_entry(intake, contract_ids, code, reason_ja))
            await self._commit(session, held, intake)
        if origin_file is not None:
            await self.vault.erase(origin_file)
        await self._sweep_dead_claims(intake, held.claim)


async def _discard(work: Path) -> None:
    """Remove this claim's own work folder (never another claim's)."""
    await asyncio.to_thread(shutil.rmtree, work, True)


def _about(claim: Claim[int]) -> tuple[int, int, str]:
    return claim.key, claim.generation, claim.holder


def _note_copy(package: Package, channel: str) -> None:
    """Remember that ``channel`` may hold the package (its address unknown until it is looked up)."""
    copies = list(package.other_copies or [])
    if not any(c["connector"] == channel for c in copies):
        copies.append({"connector": channel, "folder": package.contract.code, "location": None})
    package.other_copies = copies


def _identity_now(path: Path) -> str | None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return identity_of(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
