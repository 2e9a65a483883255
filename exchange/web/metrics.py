"""``/metrics``: the hub's operating figures in Prometheus text format, for operators' scrapers only.

The figures hold no personal data, but they are still the operators' business: only clients in
``web.metrics_allow`` (loopback by default) get them, judged on the same client address as every other check
(``context.source_ip``, which believes X-Forwarded-For only from ``web.trusted_proxies``). Anyone else gets the
portal's ordinary 404, so the page does not announce itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError

from exchange.metrics import SnapshotCollector, read_snapshot
from exchange.web.context import DEPS, SESSIONS, error_page, source_ip

log = logging.getLogger(__name__)

# A scraper has its own timeout (10 s by default in Prometheus); answer 503 before it gives up.
METRICS_DATABASE_TIMEOUT_SECONDS = 8.0


def allowed(address: str, networks: tuple[str, ...]) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(cidr, strict=False) for cidr in networks)


async def metrics(request: web.Request) -> web.Response:
    address = source_ip(request)
    if not allowed(address, request.app[DEPS].metrics_allow):
        log.info("/metrics refused to %s (not in web.metrics_allow)", address)
        raise error_page(request, 404, "対象が見つかりません。")
    try:
        async with asyncio.timeout(METRICS_DATABASE_TIMEOUT_SECONDS):
            async with request.app[SESSIONS]() as session:
                snapshot = await read_snapshot(session)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        # The exception's name only: a driver's message may carry connection details.
        log.warning("/metrics could not read the database (%s)", type(exc).__name__)
        raise web.HTTPServiceUnavailable(text="database unreachable") from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    # The format the scraper asks for (Accept): the classic text format unless it names a newer one.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(registry), headers={"Content-Type": content_type})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
