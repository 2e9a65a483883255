"""The hub's operating figures for Prometheus, read from the database at scrape time.

Nothing is counted in memory: every figure is a ``GROUP BY`` over rows the hub writes anyway (the intake queue,
register lines, duty runs, the audit log), so each web process of a hub with several answers the same numbers, a
restart loses nothing, and no counter is scattered through the code. Totals over time are counters derived from
rows that are never deleted (register lines, audit events, duty runs, intake rows, whose ``quarantined`` status is
final); the queue is a gauge. Labels are route codes, duty names and audit action names: no personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import BigInteger, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.duties.scheduler import DUTIES
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action
from ledger.models import IntakeFile, IntakeStatus, LedgerEntry, Package, Route
from ledger.models.audit import AuditEvent
from ledger.models.duties import DutyRun
from ledger.registers.handover import RegisterKind

# The statuses of a drop still in the work queue; ``finished`` and ``quarantined`` are where it ends.
QUEUED = (IntakeStatus.PENDING, IntakeStatus.PACKED, IntakeStatus.DELIVERED)
# Register kinds counted per route, with the metric each one feeds.
DELIVERY_KINDS = {
    RegisterKind.PACKAGE_DELIVERED: "handover_deliveries",
    RegisterKind.PACKAGE_FALLBACK: "handover_delivery_fallbacks",
    RegisterKind.PACKAGE_DELIVERY_FAILED: "handover_delivery_failures",
}
# Every refused attempt to sign in or to use the API, by the audit action that records it.
LOGIN_FAILURES = (
    AuditAction.LOGIN_FAILED,
    AuditAction.LOGIN_TOTP_FAILED,
    AuditAction.LOGIN_SETUP_TOTP_FAILED,
    AuditAction.LOGIN_LOCKED,
    AuditAction.LOGIN_NETWORK_DENIED,
    AuditAction.INVITATION_FAILED,
    AuditAction.API_AUTH_FAILED,
)
_HELP = {
    "handover_deliveries": "Packages delivered to an endpoint (register lines package.delivered), by route",
    "handover_delivery_fallbacks": "Packages switched to the fallback connector (package.fallback), by route",
    "handover_delivery_failures": "Deliveries that failed for good and wait for staff (package.delivery_failed)",
}


@dataclass
class Snapshot:
    """One scrape's figures, read in one transaction; ``collect`` turns them into metric families."""

    queue: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    quarantine_waiting: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, dict[str, int]] = field(default_factory=dict)  # metric name → route → count
    duty_runs: dict[str, int] = field(default_factory=dict)
    duty_failures: dict[str, int] = field(default_factory=dict)
    duty_last_success: dict[str, float] = field(default_factory=dict)
    downloads: int = 0
    download_bytes: int = 0
    login_failures: dict[str, int] = field(default_factory=dict)

    def collect(self) -> Iterator[Metric]:
        queue = GaugeMetricFamily(
            "handover_intake_queue_depth", "Dropped files in the work queue, by intake status", labels=["status"]
        )
        for status, count in sorted(self.queue.items()):
            queue.add_metric([status], count)
        yield queue
        yield _counter("handover_quarantines", "Drops the intake refused and set aside, by route", self.quarantined)
        yield _gauge(
            "handover_quarantine_waiting",
            "Quarantined drops no one has released or discarded yet",
            self.quarantine_waiting,
        )
        for name, by_route in self.deliveries.items():
            yield _counter(name, _HELP[name], by_route)
        yield _counter("handover_duty_runs", "Runs of each scheduled duty (started)", self.duty_runs, label="duty")
        yield _counter("handover_duty_failures", "Runs of each scheduled duty that failed", self.duty_failures, "duty")
        yield _gauge(
            "handover_duty_last_success_timestamp_seconds",
            "When each duty last finished without error (Unix time)",
            self.duty_last_success,
            label="duty",
        )
        yield CounterMetricFamily(
            "handover_portal_downloads", "Counted package downloads on the portal and the API", value=self.downloads
        )
        yield CounterMetricFamily(
            "handover_portal_download_bytes",
            "Bytes of package transfers the portal and the API completed",
            value=self.download_bytes,
        )
        yield _counter(
            "handover_login_failures",
            "Refused sign-in and API attempts, by the audit action that records them",
            self.login_failures,
            label="action",
        )


def _counter(name: str, documentation: str, values: Mapping[str, int], label: str = "route") -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, count in sorted(values.items()):
        family.add_metric([key], count)
    return family


def _gauge(name: str, documentation: str, values: Mapping[str, float], label: str = "route") -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class SnapshotCollector(Collector):
    """A prometheus-client collector over one snapshot (the queries are async; ``collect`` is not)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        return self.snapshot.collect()


def _zeros(keys: Iterable[str]) -> dict[str, int]:
    # Every series exists from the start, so that rate() and alerts see the first event as an increase.
    return dict.fromkeys(keys, 0)


async def read_snapshot(session: AsyncSession) -> Snapshot:
    """Every figure, each one grouped query; the audit and register queries use their (action|kind) indexes."""
    routes: Sequence[str] = (await session.execute(select(Route.code))).scalars().all()
    duties = [duty.name for duty in DUTIES]
    snapshot = Snapshot(
        queue=_zeros(status.value for status in QUEUED),
        quarantined=_zeros(routes),
        quarantine_waiting=_zeros(routes),
        deliveries={name: _zeros(routes) for name in DELIVERY_KINDS.values()},
        duty_runs=_zeros(duties),
        duty_failures=_zeros(duties),
        login_failures=_zeros(action.value for action in LOGIN_FAILURES),
    )
    queued = select(IntakeFile.status, func.count()).where(IntakeFile.status.in_(QUEUED)).group_by(IntakeFile.status)
    for status, count in await session.execute(queued):
        snapshot.queue[status.value] = count

    undecided = IntakeFile.resolution.is_(None)
    quarantined = (
        select(Route.code, undecided, func.count())
        .join(Route, IntakeFile.route_id == Route.id)
        .where(IntakeFile.status == IntakeStatus.QUARANTINED)
        .group_by(Route.code, undecided)
    )
    for route, waiting, count in await session.execute(quarantined):
        snapshot.quarantined[route] += count
        if waiting:
            snapshot.quarantine_waiting[route] += count

    delivered = (
        select(LedgerEntry.kind, Route.code, func.count())
        .join(Package, Package.public_id == LedgerEntry.package_id)
        .join(IntakeFile, Package.intake_id == IntakeFile.id)
        .join(Route, IntakeFile.route_id == Route.id)
        .where(LedgerEntry.kind.in_(list(DELIVERY_KINDS)))
        .group_by(LedgerEntry.kind, Route.code)
    )
    for kind, route, count in await session.execute(delivered):
        snapshot.deliveries[DELIVERY_KINDS[RegisterKind(kind)]][route] = count

    runs = select(DutyRun.name, DutyRun.ok, func.count()).group_by(DutyRun.name, DutyRun.ok)
    for name, ok, count in await session.execute(runs):
        snapshot.duty_runs[name] = snapshot.duty_runs.get(name, 0) + count
        if ok is False:
            snapshot.duty_failures[name] = snapshot.duty_failures.get(name, 0) + count
    last = select(DutyRun.name, func.max(DutyRun.finished_at)).where(DutyRun.ok.is_(True)).group_by(DutyRun.name)
    for name, finished in await session.execute(last):
        if finished is not None:  # max() over a nullable column; an ok run always has its end time
            snapshot.duty_last_success[name] = finished.timestamp()

    snapshot.downloads = (
        await session.scalar(
            select(func.count()).where(AuditEvent.action == Action.PACKAGE_DOWNLOAD, AuditEvent.outcome == "allowed")
        )
        or 0
    )
    # The byte count of each completed transfer is in its end event (exchange/web/contractor_packages.py).
    sent = cast(AuditEvent.detail["bytes"].as_string(), BigInteger)
    # PostgreSQL sums a bigint into a numeric (a Decimal here): back to an int.
    snapshot.download_bytes = int(
        await session.scalar(
            select(func.coalesce(func.sum(sent), 0)).where(
                and_(AuditEvent.action == AuditAction.PACKAGE_DOWNLOAD_END, AuditEvent.outcome == "allowed")
            )
        )
        or 0
    )
    failures = (
        select(AuditEvent.action, func.count()).where(AuditEvent.action.in_(LOGIN_FAILURES)).group_by(AuditEvent.action)
    )
    for action, count in await session.execute(failures):
        snapshot.login_failures[action] = count
    return snapshot
