"""Composition root: builds the running hub from settings and runs it until a signal arrives."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from connectors.registry import build_connectors
from exchange.admin import bootstrap
from exchange.admin.data_import import import_files
from exchange.blobs.registry import open_blob_store
from exchange.blobs.s3 import BlobStoreUnavailable
from exchange.blobs.store import BlobStore
from exchange.duties.scheduler import DutyRunner, build_context, run_duties
from exchange.heartbeats import Heartbeat
from exchange.intake.antivirus import ClamdScanner
from exchange.intake.pipeline import Pipeline, PipelineConfig
from exchange.intake.preparation import Preparer
from exchange.intake.service import IntakeService
from exchange.keys import sources
from exchange.keys.sealing import Keyring
from exchange.roles import Role, ordered
from exchange.settings import Settings
from exchange.supervision import Health, supervise
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.tlog import sequencing
from policies.pluginmanager import HandoverPlugins, PluginConfig, ProgramConfig, build_plugin_manager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubServices:
    """Everything built once at start; passed explicitly to whoever needs it (no global registry)."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    connectors: dict[str, Connector]
    keyring: Keyring
    pipeline: Pipeline
    scanner: ClamdScanner | None
    plugins: HandoverPlugins
    blobs: BlobStore

    @property
    def connector_kinds(self) -> dict[str, str]:
        return {name: connector.kind for name, connector in self.connectors.items()}


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[HubServices]:
    async with bootstrap.open_engine(settings) as engine:
        keyring = await asyncio.to_thread(sources.hub_keyring, settings)
        connectors = await asyncio.to_thread(build_connectors, settings.connectors)  # reads secret files
        sessions = bootstrap.sessions(engine)
        scanner = None
        if settings.antivirus is not None:
            scanner = ClamdScanner(settings.antivirus.clamd_socket, timeout=settings.antivirus.timeout_seconds)
        plugins = await asyncio.to_thread(build_plugin_manager, plugin_config(settings))  # scans entry points
        # Checked now (S3: a HEAD of the bucket), so wrong credentials or a missing bucket stop the start.
        try:
            blobs = await open_blob_store(settings)
        except BlobStoreUnavailable as exc:
            raise bootstrap.HubUnavailable(str(exc)) from exc
        preparer = Preparer(connectors, keyring, plugins, scanner=scanner)
        data_dir = await asyncio.to_thread(settings.data_dir.resolve)
        config = PipelineConfig(
            store_dir=data_dir / "store",
            lease=timedelta(seconds=settings.intake.lease_seconds),
            data_dir=data_dir,
        )
        pipeline = Pipeline(sessions, connectors, preparer, config, blobs=blobs)
        try:
            yield HubServices(settings, sessions, connectors, keyring, pipeline, scanner, plugins, blobs)
        finally:
            await blobs.close()
            for connector in connectors.values():
                await connector.close()


def plugin_config(settings: Settings) -> PluginConfig:
    configured = settings.plugins
    return PluginConfig(
        allow=frozenset(configured.allow) if configured.allow is not None else None,
        exclude=frozenset(configured.exclude),
        programs={
            code: ProgramConfig(
                plugins=frozenset(program.plugins) if program.plugins is not None else None,
                settings=program.settings,
            )
            for code, program in configured.programs.items()
        },
    )


async def _load_demo(settings: Settings, echo: Callable[[str], None]) -> None:
    result = await bootstrap.initialise(settings)
    if result.admin_password is not None:
        echo("First admin account created. Its one-time password is shown only now:")
        echo(f"  login: {result.admin_login}")
        echo(f"  password: {result.admin_password}")
    files = sorted(settings.demo_dir.glob("*.toml"))
    async with bootstrap.open_engine(settings) as engine, bootstrap.sessions(engine).begin() as session:
        plugins = await asyncio.to_thread(build_plugin_manager, plugin_config(settings))
        summary = await import_files(session, files, base_dir=settings.data_dir.resolve(), plugins=plugins)
    for note in summary.notes:
        echo(note)
    echo(f"demo data imported from {settings.demo_dir} ({len(files)} files)")


async def serve(
    settings: Settings,
    *,
    demo: bool = False,
    host: str | None = None,
    port: int | None = None,
    roles: tuple[Role, ...] = (),
    echo: Callable[[str], None] = print,
) -> None:
    """Run the chosen roles (default: ``serve.roles`` from the settings) until SIGINT or SIGTERM."""
    roles = ordered(roles or settings.serve.roles)
    if demo:
        await _load_demo(settings, echo)  # makes the keys on a first start
    if Role.SCHEDULER in roles:
        # Checked now, so a missing or malformed signing key stops the start instead of the first checkpoint. Only
        # the scheduler signs, so the hosts of the other roles need not hold the key.
        await asyncio.to_thread(sources.signing_key, settings.signing_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with services(settings) as hub:
        deps = PortalDeps(
            keyring=hub.keyring,
            connector_kinds=hub.connector_kinds,
            data_dir=settings.data_dir.resolve(),
            staff_totp_required=settings.web.staff_totp_required,
            trusted_proxies=tuple(settings.web.trusted_proxies),
            metrics_allow=tuple(settings.web.metrics_allow),
            connectors=hub.connectors,
            scanner=hub.scanner,
            plugins=hub.plugins,
            blobs=hub.blobs,
        )
        health = Health(roles=roles)
        runner: web.AppRunner | None = None
        if Role.WEB in roles:
            app = create_app(hub.sessions, secure_cookies=settings.web.tls_cert is not None, deps=deps, health=health)
            runner = web.AppRunner(app, access_log=None)
            await _listen(runner, settings, host, port, echo)
        else:
            echo(f"handover is running as {', '.join(roles)} (no listener)")
        heartbeat = Heartbeat(hub.sessions, health, settings.serve.heartbeat_seconds)
        background = asyncio.create_task(run_background(hub, health, heartbeat))
        try:
            await stop.wait()
        finally:
            # Cancelling abandons a step safely: its work is fenced and committed whole or not at all.
            background.cancel()
            await asyncio.gather(background, return_exceptions=True)
            await _sequence_leftovers(hub)
            await _forget(heartbeat)
            if runner is not None:
                await runner.cleanup()


async def _listen(
    runner: web.AppRunner, settings: Settings, host: str | None, port: int | None, echo: Callable[[str], None]
) -> None:
    await runner.setup()
    listen_host = host or settings.web.host
    listen_port = port or settings.web.port
    site = web.TCPSite(runner, listen_host, listen_port, ssl_context=_tls(settings))
    await site.start()
    echo(f"handover is serving on {'https' if settings.web.tls_cert else 'http'}://{listen_host}:{listen_port}/")


async def _sequence_leftovers(hub: HubServices) -> None:
    """Index what is still queued in the ledger (a killed process's lines), so a stopped hub leaves none behind."""
    try:
        async with asyncio.timeout(5), hub.sessions() as session:
            await sequencing.drain(session)
    except Exception:
        log.warning("the ledger queue could not be drained; the next process sequences it", exc_info=True)


async def _forget(heartbeat: Heartbeat) -> None:
    """Remove this process's heartbeat row; a database that is away leaves it to go stale instead."""
    try:
        async with asyncio.timeout(5):
            await heartbeat.remove()
    except Exception:
        log.warning("the heartbeat row could not be removed; it goes stale by itself", exc_info=True)


async def run_background(
    hub: HubServices, health: Health, heartbeat: Heartbeat, *, duty_tick_seconds: float = 60.0
) -> None:
    """The background loops of ``health.roles``, each under the one supervisor (restart, log, report to ``/healthz``).

    A worker runs intake (scan, watch, work), a scheduler the duty ticker; every process beats its heartbeat row and
    sweeps the ledger queue (every role writes register lines: the portal, the pipeline, the duties), so lines a
    killed process committed but never sequenced get their index within seconds (``ledger.tlog.sequencing``).
    """
    loops: list[Awaitable[None]] = []
    if Role.WORKER in health.roles:
        loops.append(IntakeService(hub.sessions, hub.pipeline, hub.settings.intake).run(health))
    if Role.SCHEDULER in health.roles:
        duties = DutyRunner(build_context(hub.settings, hub.sessions, hub.connectors, hub.blobs))
        loops.append(supervise("duties", partial(run_duties, duties, duty_tick_seconds), health))
    loops.append(supervise("heartbeat", heartbeat.loop, health))
    loops.append(supervise("ledger.sequence", partial(sequencing.sweep, hub.sessions), health))
    await asyncio.gather(*loops)


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.web.tls_cert is None or settings.web.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.web.tls_cert, settings.web.tls_key)
    return context
