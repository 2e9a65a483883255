"""The durable path of a dropped file: take in, check, minimise, pack, deliver, finish — or quarantine.

Each intake row moves PENDING → PACKED → DELIVERED → FINISHED (or → QUARANTINED). A worker claims a row with a
lease (``exchange.leases``, shared with the duties), performs the one step its status calls for while a
heartbeat renews the lease, and commits the new status and the lease's release together with the step's
register entries. Every step can run again after a crash: packing rewrites the intake's own store folder,
connectors' ``put`` is idempotent, and finishing tolerates a source that is already gone.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.base import Connector, ConnectorError
from exchange.delivery.endpoint_access import sync_access
from exchange.intake import preparation
from exchange.intake import results as outcome
from exchange.intake.stability import Ready
from exchange.leases import Leases, LeaseTable
from exchange.logs import correlated
from ledger.models import Contract, IntakeFile, IntakeStatus, Package, PackageStatus, Route, RouteTarget
from ledger.models.base import utcnow
from ledger.registers.handover import record
from policies.errors import PolicyRefusal

log = logging.getLogger(__name__)

ACTIVE = (IntakeStatus.PENDING, IntakeStatus.PACKED, IntakeStatus.DELIVERED)
INTAKE_LEASES = LeaseTable(IntakeFile, IntakeFile.id, IntakeFile.lease_owner, IntakeFile.lease_until)


@dataclass(frozen=True)
class PipelineConfig:
    store_dir: Path
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 3  # on the primary connector, before the fallback takes over
    retry_base: timedelta = timedelta(seconds=5)
    deflate_level: int = 6


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Mapping[str, Connector],
        preparer: preparation.Preparer,
        config: PipelineConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.connectors = connectors
        self.preparer = preparer
        self.config = config
        self.clock = clock
        self.leases = Leases(INTAKE_LEASES, f"worker-{uuid.uuid4().hex[:8]}", config.lease, clock)

    async def enqueue(self, route: Route, ready: Ready) -> IntakeFile | None:
        """Record a ready file (once: an active row for the same path means it is already queued)."""
        async with self.sessions() as session:
            try:
                async with session.begin():
                    existing = (
                        await session.execute(
                            select(IntakeFile.id).where(
                                IntakeFile.route_id == route.id,
                                IntakeFile.source_path == str(ready.path),
                                IntakeFile.status.in_(ACTIVE),
                            )
                        )
                    ).first()
                    if existing is not None:
                        return None
                    row = IntakeFile(
                        route_id=route.id, source_path=str(ready.path), file_name=ready.path.name, size=ready.size
                    )
                    session.add(row)
                    await session.flush()
                    if ready.is_dir:
                        row.reason_code = "intake.not_a_file"
                        row.reason_ja = "フォルダやリンクは受け付けません。ファイルを1つずつ置いてください。"
                    return row
            except IntegrityError:
                return None  # another hub process queued it first

    async def enqueue_manual(self, route: Route, path: Path) -> int:
        """Queue a file named on the command line; it is processed only by ``run_to_end``."""
        size = (await asyncio.to_thread(path.stat)).st_size
        source = await asyncio.to_thread(path.absolute)
        async with self.sessions.begin() as session:
            row = IntakeFile(
                route_id=route.id,
                source_path=str(source),
                file_name=path.name,
                size=size,
                manual=True,
                # Far future: background workers leave it to the operator's own command.
                next_attempt_at=datetime(9999, 1, 1, tzinfo=UTC),
                lease_owner=self.leases.holder,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def run_to_end(self, row_id: int) -> IntakeFile:
        """Step one row until it is finished, quarantined, or waiting for a retry; return its final state."""
        while True:
            await self.step(row_id)
            async with self.sessions() as session:
                row = await session.get(IntakeFile, row_id)
                assert row is not None
                if row.status not in ACTIVE or row.attempts > 0:
                    return row

    async def claim(self) -> int | None:
        """Take the lease on the next due row; None when there is no work."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            query = (
                select(IntakeFile.id)
                .where(
                    IntakeFile.status.in_(ACTIVE),
                    IntakeFile.next_attempt_at <= now,
                    self.leases.free(now),
                )
                .order_by(IntakeFile.id)
                .limit(1)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row_id = (await session.execute(query)).scalar_one_or_none()
            if row_id is None:
                return None
            return row_id if await self.leases.claim(session, row_id, now) else None

    async def run_once(self) -> bool:
        """Perform one step of one row; False when nothing was due."""
        row_id = await self.claim()
        if row_id is None:
            return False
        await self.step(row_id)
        return True

    async def drain(self) -> None:
        while await self.run_once():
            pass

    async def step(self, row_id: int) -> None:
        # The heartbeat keeps the lease while a long step (packing gigabytes) runs; a dead process stops renewing.
        async with self.leases.heartbeat(self.sessions, row_id):
            await self._step(row_id)

    async def _step(self, row_id: int) -> None:
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
            with correlated(intake.public_id):
                if intake.reason_code is not None and intake.status == IntakeStatus.PENDING:
                    await self._quarantine(session, intake, intake.reason_code, intake.reason_ja or "")
                elif intake.status == IntakeStatus.PENDING:
                    await self._pack(session, intake)
                elif intake.status == IntakeStatus.PACKED:
                    await self._deliver(session, intake)
                elif intake.status == IntakeStatus.DELIVERED:
                    await self._finish(session, intake)

    async def _release(self, session: AsyncSession, intake: IntakeFile, *, retry_in: timedelta | None = None) -> None:
        """Give the row back in the step's transaction (and, after a failure, schedule its retry)."""
        if retry_in is not None:
            intake.attempts += 1
            intake.next_attempt_at = self.clock() + retry_in
        await self.leases.release(session, intake.id)

    def _backoff(self, attempts: int) -> timedelta:
        return self.config.retry_base * float(2 ** min(attempts, 8))

    # Each step below works in one session with autobegin: reads, slow work in threads, then writes, and one
    # commit carries the new status together with its register lines.

    async def _pack(self, session: AsyncSession, intake: IntakeFile) -> None:
        source = Path(intake.source_path)
        work = self.config.store_dir / intake.public_id
        try:
            prepared = await self.preparer.prepare(session, intake, source, work)
        except PolicyRefusal as refusal:
            await asyncio.to_thread(shutil.rmtree, work, True)
            await self._quarantine(session, intake, refusal.code.value, refusal.reason)
            return
        except OSError as exc:
            await asyncio.to_thread(shutil.rmtree, work, True)
            log.warning("reading an intake file failed (%s); will retry", type(exc).__name__)
            intake.reason_ja = f"処理を保留しています（{exc.strerror or exc}）。自動で再試行します。"
            await self._release(session, intake, retry_in=self._backoff(intake.attempts))
            await session.commit()
            return
        intake.sha256 = prepared.source_sha256
        intake.reason_ja = None
        for item in prepared.packages:
            item.package.intake_id = intake.id
            session.add(item.package)
            await session.flush()
            await record(session, item.register_entry())
        intake.status = IntakeStatus.PACKED
        await self._release(session, intake)
        await session.commit()

    async def _deliver(self, session: AsyncSession, intake: IntakeFile) -> None:
        packages = list(
            (
                await session.execute(
                    select(Package)
                    .where(Package.intake_id == intake.id)
                    .options(selectinload(Package.contract), selectinload(Package.route_target))
                )
            ).scalars()
        )
        waiting = False
        for package in packages:
            if package.status == PackageStatus.SEALED:
                delivered = await self._deliver_package(session, package)
                waiting = waiting or not delivered
        if waiting:
            await self._release(session, intake, retry_in=self._backoff(intake.attempts))
        else:
            intake.status = IntakeStatus.DELIVERED
            await self._release(session, intake)
        await session.commit()

    def _channel_for(self, package: Package) -> str:
        target = package.route_target
        fallback = target.fallback_connector if target else None
        if fallback and package.attempts >= self.config.max_attempts:
            return fallback
        return package.connector

    async def _deliver_package(self, session: AsyncSession, package: Package) -> bool:
        """Deliver and verify one package; its outcome is committed at once, so a crash repeats nothing."""
        channel = self._channel_for(package)
        connector = self.connectors.get(channel)
        try:
            if connector is None:
                raise ConnectorError(f"接続先「{channel}」が設定されていません。", retryable=False)
            stored = await connector.put(
                package.contract.code, package.zip_name, Path(package.store_path), {"package_id": package.public_id}
            )
            await connector.verify(stored, size=package.size, sha256=package.sha256)
            await sync_access(session, {channel: connector}, package.contract)
        except ConnectorError as exc:
            package.attempts += 1
            package.last_error = f"{channel}: {exc.reason_ja}"
            log.warning(
                "delivery of package %s via %s failed (attempt %d)", package.public_id, channel, package.attempts
            )
            target = package.route_target
            if (
                target is not None
                and target.fallback_connector is not None
                and channel == package.connector
                and package.attempts == self.config.max_attempts
            ):
                await record(session, outcome.fallback_entry(package, channel))
            await session.commit()
            return False
        package.status = PackageStatus.DELIVERED
        package.delivered_via = channel
        package.delivered_at = self.clock()
        package.last_error = None
        package.location = {"connector": stored.connector, "folder": stored.folder, "location": stored.location}
        await record(session, outcome.delivered_entry(package, channel))
        await session.commit()
        return True

    async def _finish(self, session: AsyncSession, intake: IntakeFile) -> None:
        packages = list(
            (
                await session.execute(
                    select(Package).where(Package.intake_id == intake.id).options(selectinload(Package.contract))
                )
            ).scalars()
        )
        route = intake.route
        await asyncio.to_thread(outcome.write_delivered_result, intake, route, packages)
        await asyncio.to_thread(outcome.remove_original, intake, route)
        intake.status = IntakeStatus.FINISHED
        intake.finished_at = self.clock()
        await self._release(session, intake)
        await record(session, outcome.finished_entry(intake, packages))
        await session.commit()

    async def _quarantine(self, session: AsyncSession, intake: IntakeFile, code: str, reason_ja: str) -> None:
        route = intake.route
        await asyncio.to_thread(outcome.move_to_quarantine, intake, route, reason_ja)
        intake.status = IntakeStatus.QUARANTINED
        intake.reason_code = code
        intake.reason_ja = reason_ja
        intake.finished_at = self.clock()
        await self._release(session, intake)
        contract_ids = [t.contract.public_id for t in route.targets]
        await record(session, outcome.quarantined_entry(intake, contract_ids, code, reason_ja))
        await session.commit()
