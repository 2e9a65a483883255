"""Composition root: builds the running hub from settings and runs it until a signal arrives."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable

from aiohttp import web

from exchange import bootstrap
from exchange.admin_import import import_files
from exchange.settings import Settings
from exchange.web.app import create_app

log = logging.getLogger(__name__)


async def _load_demo(settings: Settings, echo: Callable[[str], None]) -> None:
    result = await bootstrap.initialise(settings)
    if result.admin_password is not None:
        echo("First admin account created. Its one-time password is shown only now:")
        echo(f"  login: {result.admin_login}")
        echo(f"  password: {result.admin_password}")
    files = sorted(settings.demo_dir.glob("*.toml"))
    async with bootstrap.open_engine(settings) as engine, bootstrap.sessions(engine).begin() as session:
        await import_files(session, files, base_dir=settings.data_dir.resolve())
    echo(f"demo data imported from {settings.demo_dir} ({len(files)} files)")


async def serve(
    settings: Settings,
    *,
    demo: bool = False,
    host: str | None = None,
    port: int | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    if demo:
        await _load_demo(settings, echo)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bootstrap.open_engine(settings) as engine:
        app = create_app(bootstrap.sessions(engine), secure_cookies=settings.web.tls_cert is not None)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listen_host = host or settings.web.host
        listen_port = port or settings.web.port
        site = web.TCPSite(runner, listen_host, listen_port, ssl_context=_tls(settings))
        await site.start()
        echo(f"handover is serving on {'https' if settings.web.tls_cert else 'http'}://{listen_host}:{listen_port}/")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.web.tls_cert is None or settings.web.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.web.tls_cert, settings.web.tls_key)
    return context
