"""Every periodic duty of the hub, and how several hub processes share them (ARCHITECTURE "Durable flow").

Each duty has a named interval (``Duty.every``); its due times are the multiples of that interval (UTC, from
2000-01-01), and its state lives in ``duty_states``. ``run_duties`` only *ticks*: every ``tick`` seconds it asks
the database, duty by duty, whether the duty is due; the hub runs it under ``exchange.supervision``, which restarts
it (and reports it to ``/healthz``) when a round fails. A process runs a duty only after winning the lease on the
duty's row (``exchange.leases``, shared with the intake pipeline) with one portable statement, ``UPDATE duty_states SET
lease_owner = me … WHERE name = ? AND next_due_at <= now AND (lease_until IS NULL OR lease_until < now)``, so
exactly one process wins per due time. After the run, ``next_due_at`` moves to the next due time after *now* (a
hub that was down runs a missed duty once, not once per missed interval). A process that dies mid-run loses its
lease when ``lease_until`` passes (a heartbeat extends it while the duty runs) and another process runs the duty
again: every duty is idempotent.

Time comes from an injected clock (``DutyContext.clock``), so tests move time instead of waiting.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from connectors.options import SecretRef
from exchange.blobs.store import BlobStore
from exchange.duties import credential_rotation
from exchange.duties.mail import Mailer, SmtpMailer
from exchange.inbound import return_folders
from exchange.keys import sources
from exchange.leases import Claim, Hold, LeaseLost, Leases, LeaseTable, is_free
from exchange.oversight import access_log_analysis as access_analysis
from exchange.oversight import incidents, inspections
from exchange.retention import contractor_certificates as contractor_certs
from exchange.retention import returns
from exchange.retention.sweep import Sweeper
from exchange.settings import Settings
from ledger.models.base import utcnow
from ledger.models.duties import DutyRun, DutyState
from ledger.models.ledger import LedgerCheckpoint
from ledger.tlog.checkpoint import SigningKey
from ledger.tlog.sequencing import drain
from ledger.tlog.store import LedgerIntegrityError, tree_size
from ledger.tlog.verification import sign_checkpoint, verify

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
INCOMPLETE_BLOB_AGE = timedelta(days=1)
DUTY_LEASES = LeaseTable(
    DutyState, DutyState.name, DutyState.lease_owner, DutyState.lease_until, DutyState.lease_generation
)


@dataclass(frozen=True)
class DutyConfig:
    signing_key: SecretRef
    ledger_origin: str
    certificate_due_days: int = 30
    business_hours: access_analysis.BusinessHours = field(default_factory=access_analysis.BusinessHours)
    lease: timedelta = timedelta(minutes=10)
    retry_after: timedelta = timedelta(minutes=15)
    # Uploads are sealed under the data directory with the master keys: the return-folder duty reads them.
    data_dir: Path | None = None
    master_key: SecretRef | None = None
    old_master_keys: tuple[SecretRef, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> DutyConfig:
        return cls(
            signing_key=settings.signing_key,
            ledger_origin=settings.ledger_origin,
            data_dir=settings.data_dir.resolve(),
            master_key=settings.master_key,
            old_master_keys=tuple(settings.keys.old_masters),
        )


@dataclass(frozen=True)
class DutyContext:
    sessions: async_sessionmaker[AsyncSession]
    connectors: Mapping[str, Connector]
    config: DutyConfig
    blobs: BlobStore
    clock: Clock = utcnow
    mailer: Mailer | None = None

    async def signing_key(self) -> SigningKey:
        return await asyncio.to_thread(sources.signing_key, self.config.signing_key)


def build_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    connectors: Mapping[str, Connector],
    blobs: BlobStore,
    *,
    clock: Clock = utcnow,
) -> DutyContext:
    """The duties' context from the hub's settings (e-mail only when ``smtp`` is configured) and its blob store."""
    mailer = SmtpMailer(settings.smtp) if settings.smtp is not None else None
    return DutyContext(sessions, connectors, DutyConfig.from_settings(settings), blobs, clock=clock, mailer=mailer)


DutyFunction = Callable[[DutyContext, datetime], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Duty:
    name: str
    every: timedelta
    run: DutyFunction

    def due_time(self, moment: datetime) -> datetime:
        """The latest due time at or before ``moment``."""
        return _EPOCH + ((moment - _EPOCH) // self.every) * self.every


async def _retention_sweep(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    sweeper = Sweeper(ctx.sessions, ctx.connectors, signing_key=await ctx.signing_key(), blobs=ctx.blobs)
    return (await sweeper.sweep(now)).summary()


async def _certificate_reminders(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await contractor_certs.remind(ctx.sessions, now, due_days=ctx.config.certificate_due_days, mailer=ctx.mailer)


async def _returns_overdue(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await returns.flag_overdue(ctx.sessions, now, mailer=ctx.mailer)


async def _inspection_reminders(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await inspections.remind(ctx.sessions, now, mailer=ctx.mailer)


async def _incident_deadlines(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await incidents.remind(ctx.sessions, now, mailer=ctx.mailer)


async def _access_analysis(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await access_analysis.analyse(ctx.sessions, now, hours=ctx.config.business_hours)


async def _credential_rotation(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    return await credential_rotation.remind(ctx.sessions, now, mailer=ctx.mailer)


async def _inbound_returns(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    if ctx.config.data_dir is None or ctx.config.master_key is None:
        return {"delivered": 0, "failed": 0, "skipped": "no data directory or master key"}
    keyring = await asyncio.to_thread(sources.keyring, ctx.config.master_key, ctx.config.old_master_keys)
    return await return_folders.deliver_pending(ctx.sessions, ctx.blobs, ctx.config.data_dir, keyring, now)


async def _blobs_clean(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    """What puts killed mid-way left in the blob store (temp files, multipart uploads), once it is a day old:
    no put runs that long, and S3 bills unfinished uploads until they are aborted."""
    return {"removed": await ctx.blobs.clean_incomplete(INCOMPLETE_BLOB_AGE.total_seconds())}


async def _checkpoint(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    key = await ctx.signing_key()
    async with ctx.sessions() as session:
        await drain(session)  # lines a killed process left queued are in the checkpoint too
        async with session.begin():
            size = await tree_size(session)
            signed = await session.scalar(
                select(LedgerCheckpoint.id).where(LedgerCheckpoint.tree_size == size).limit(1)
            )
            if signed is not None:  # nothing new since the last checkpoint
                return {"tree_size": size, "signed": False}
            checkpoint = await sign_checkpoint(session, key, ctx.config.ledger_origin)
            return {"tree_size": checkpoint.tree_size, "signed": True}


async def _full_verify(ctx: DutyContext, now: datetime) -> dict[str, Any]:
    """The whole log, every checkpoint's signature and every tile, once a day: the hourly checkpoint checks only what
    is new since the last one (it proves from the tiles that the log extends it), so an edit of an older entry's
    bytes is this duty's to find. A failure fails the duty: it is logged, and ``/metrics`` shows its last success."""
    key = await ctx.signing_key()
    async with ctx.sessions() as session:
        await drain(session)
        async with session.begin():
            result = await verify(session, key.verifier)
    if not result.ok:
        raise LedgerIntegrityError(result.summary())
    return {"tree_size": result.tree_size, "checkpoints": result.checkpoints_checked}


DUTIES: tuple[Duty, ...] = (
    Duty("retention.sweep", timedelta(hours=1), _retention_sweep),
    Duty("certificates.reminders", timedelta(days=1), _certificate_reminders),
    Duty("returns.overdue", timedelta(days=1), _returns_overdue),
    Duty("inspections.reminders", timedelta(days=1), _inspection_reminders),
    Duty("incidents.deadlines", timedelta(hours=1), _incident_deadlines),
    Duty("access.analysis", timedelta(days=1), _access_analysis),
    Duty("ledger.checkpoint", timedelta(hours=1), _checkpoint),
    Duty("ledger.verify", timedelta(days=1), _full_verify),
    Duty("credentials.rotation", timedelta(days=1), _credential_rotation),
    Duty("inbound.returns", timedelta(minutes=1), _inbound_returns),
    Duty("blobs.clean", timedelta(days=1), _blobs_clean),
)
DUTIES_BY_NAME: Mapping[str, Duty] = {duty.name: duty for duty in DUTIES}


class DutyRunner:
    """Claims and runs duties for one process (``owner``)."""

    def __init__(self, ctx: DutyContext, duties: tuple[Duty, ...] = DUTIES, owner: str | None = None) -> None:
        self.ctx = ctx
        self.duties = {duty.name: duty for duty in duties}
        self.owner = owner or f"duties-{uuid.uuid4().hex[:10]}"
        self.leases = Leases(DUTY_LEASES, self.owner, ctx.config.lease, ctx.clock)

    async def _claimable(self, duty: Duty, now: datetime, *, when_due: bool) -> bool:
        """A read-only look first: ticks that find nothing to do then take no write lock (SQLite would let
        the processes that tick starve one that waits for its lock)."""
        async with self.ctx.sessions() as session:
            state = (
                await session.execute(
                    select(DutyState.next_due_at, DutyState.lease_until).where(DutyState.name == duty.name)
                )
            ).first()
        if state is None:
            try:
                async with self.ctx.sessions() as session, session.begin():
                    session.add(DutyState(name=duty.name, next_due_at=duty.due_time(now)))
            except IntegrityError:
                pass  # another process created it first
            return True
        next_due_at, lease_until = state
        return is_free(lease_until, now) and (not when_due or next_due_at <= now)

    async def _claim(self, duty: Duty, now: datetime, *, when_due: bool) -> tuple[Claim[str], datetime] | None:
        """The claim and the due time won, or None when the duty is not due or another process holds it."""
        if not await self._claimable(duty, now, when_due=when_due):
            return None
        due_now = [DutyState.next_due_at <= now] if when_due else []
        async with self.ctx.sessions() as session, session.begin():
            claim = await self.leases.claim(session, duty.name, now, where=due_now, values={"last_started_at": now})
        if claim is None:
            return None
        # Missed due times are coalesced: the run serves the latest one.
        return claim, duty.due_time(now) if when_due else now

    async def _run_claimed(
        self, duty: Duty, claim: Claim[str], due: datetime, now: datetime, *, reschedule: bool
    ) -> DutyRun | None:
        """Run the duty under ``claim``; None when the claim was lost (its run is then not recorded as done)."""
        async with self.ctx.sessions() as session, session.begin():
            run = DutyRun(name=duty.name, due_at=due, owner=self.owner, started_at=now)
            session.add(run)

        async def work(_held: Hold[str]) -> dict[str, Any]:
            return await duty.run(self.ctx, now)

        values: dict[str, Any]
        hold_until: datetime | None = None
        try:
            result = await self.leases.hold(self.ctx.sessions, claim, work)
        except LeaseLost:
            log.warning("duty %s: its lease was lost while it ran; the run is left to the next holder", duty.name)
            return None
        except Exception as exc:  # a failed duty must not stop the others; it is retried after a pause
            log.exception("duty %s failed", duty.name)
            finished = self.ctx.clock()
            result = {"error": f"{type(exc).__name__}: {exc}"}
            run.ok, run.result = False, result
            hold_until = finished + self.ctx.config.retry_after
            values = {"last_error": result["error"]}
        else:
            finished = self.ctx.clock()
            run.ok, run.result = True, result
            values = {"last_error": None}
            if reschedule:
                values["next_due_at"] = duty.due_time(finished) + duty.every
        run.finished_at = finished
        try:
            # Fenced: the run's outcome and the new timetable commit only while this claim still holds the duty.
            async with self.ctx.sessions() as session, session.begin():
                session.add(run)
                await self.leases.release(
                    session,
                    claim,
                    hold_until=hold_until,
                    values={"last_finished_at": finished, "last_result": result, **values},
                )
        except LeaseLost:
            log.warning("duty %s: its lease was taken over before it finished; its outcome is not recorded", duty.name)
            return None
        return run

    async def run_if_due(self, name: str) -> DutyRun | None:
        """One scheduler tick for one duty: run it if it is due and this process wins it."""
        duty = self.duties[name]
        now = self.ctx.clock()
        won = await self._claim(duty, now, when_due=True)
        if won is None:
            return None
        claim, due = won
        return await self._run_claimed(duty, claim, due, now, reschedule=True)

    async def run_now(self, name: str) -> DutyRun | None:
        """Run a duty at once (from the CLI), unless another process is running it; the timetable stays."""
        duty = self.duties[name]
        now = self.ctx.clock()
        won = await self._claim(duty, now, when_due=False)
        if won is None:
            return None
        return await self._run_claimed(duty, won[0], now, now, reschedule=False)


class DutiesFailed(Exception):
    """Some duties failed this round (the others ran); the supervisor reports it and the next round retries."""


async def run_duties(runner: DutyRunner, tick_seconds: float, beat: Callable[[], None]) -> None:
    """Tick for ever: each round runs every due duty this process wins; ``beat`` after a round where all went well."""
    while True:
        failed: list[str] = []
        for name in runner.duties:
            try:
                await runner.run_if_due(name)
            except Exception:
                log.exception("duty %s failed; the other duties go on", name)
                failed.append(name)
        if failed:
            raise DutiesFailed(", ".join(failed))
        beat()
        await asyncio.sleep(tick_seconds)
