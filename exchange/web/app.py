"""The portal's aiohttp application: middleware, health check, landing page and the route modules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from jinja2.bccache import Bucket
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.logs import correlated
from exchange.supervision import Health
from exchange.web import (
    accounts,
    api,
    auth,
    compliance,
    compliance_audit,
    compliance_findings,
    compliance_reports,
    contractor_certificates,
    contractor_packages,
    contractor_uploads,
    inbox,
    inbox_chain,
    incidents,
    inspections,
    metrics,
    print_logs,
    return_pickup,
    sensitive_approvals,
    sessions,
    staff,
    staff_certificates,
    staff_printing,
    staff_quarantine,
)
from exchange.web.context import DEPS, SECURE_COOKIES, SESSIONS, PortalDeps, page
from ledger.models import Contract
from ledger.wareki import format_jst, to_wareki

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HERE = Path(__file__).parent
HEALTH: web.AppKey[Health] = web.AppKey("health")


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    with correlated(request.headers.get("X-Request-Id")):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Raised errors and redirects need the same headers as returned responses.
            exc.headers.update(SECURITY_HEADERS)
            if request.app[SECURE_COOKIES]:
                exc.headers["Strict-Transport-Security"] = "max-age=31536000"
            log.info("%s %s -> %s", request.method, request.path, exc.status)
            raise
        response.headers.update(SECURITY_HEADERS)
        if request.app[SECURE_COOKIES]:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        # Only the path: query strings could carry identifiers we do not want in logs.
        log.info("%s %s -> %s", request.method, request.path, response.status)
        return response


HEALTH_DATABASE_TIMEOUT_SECONDS = 5.0


async def healthz(request: web.Request) -> web.Response:
    """200 and ``"ok"`` only when the database answers and every background loop is healthy; 503 otherwise.

    Machine keys are stable English; ``error`` and ``since_jst`` are for people.
    """
    try:
        # A server that accepts connections but never answers (stalled, or a lock held) must not hang the probe.
        async with asyncio.timeout(HEALTH_DATABASE_TIMEOUT_SECONDS):
            async with request.app[SESSIONS]() as session:
                await session.execute(text("SELECT 1"))
        database = "ok"
    except (SQLAlchemyError, OSError, TimeoutError):
        database = "unreachable"
    health = request.app[HEALTH]
    status = "ok" if database == "ok" and health.all_ok else "degraded"
    body = {"status": status, "database": database, "components": health.report(), "roles": list(health.roles)}
    return web.json_response(body, status=200 if status == "ok" else 503)


async def landing(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session, session.begin():
        signed_in = await sessions.current(session, request) is not None
    if not signed_in:
        return await auth.login_form(request)
    async with page(request) as ctx:
        if ctx.principal.is_contractor:
            return await contractor_packages.contractor_home(ctx)
        contracts = (
            await ctx.session.execute(
                select(Contract)
                .options(
                    selectinload(Contract.party),
                    selectinload(Contract.program),
                    selectinload(Contract.parent).selectinload(Contract.party),
                )
                .order_by(Contract.starts_on, Contract.code)
            )
        ).scalars()
        return ctx.render("home.html", {"contracts": list(contracts)})


class _CompiledTemplates(jinja2.BytecodeCache):
    """The portal's templates compiled once per process and shared by every app made in it.

    Compiling all of them costs a few hundred milliseconds of CPU on the event loop; an app made again in the same
    process (each test makes one) loads the compiled code instead. Jinja checks each entry against the template
    source's checksum, so a changed template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


def create_app(
    sessions: async_sessionmaker[AsyncSession],
    *,
    secure_cookies: bool = False,
    deps: PortalDeps | None = None,
    health: Health | None = None,
) -> web.Application:
    """The portal; ``health`` is what the hub's supervised background loops report (``/healthz`` shows it)."""
    app = web.Application(middlewares=[security_middleware])
    app[HEALTH] = health or Health()
    app[SESSIONS] = sessions
    app[SECURE_COOKIES] = secure_cookies
    app[DEPS] = deps or PortalDeps()
    if not app[DEPS].staff_totp_required:
        # A ward may switch the staff second factor off (web.staff_totp_required = false); say so at every start.
        log.warning(
            "web.staff_totp_required is false: ward staff sign in with a password alone (C-10 expects a second factor)"
        )
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        auto_reload=False,
        bytecode_cache=_COMPILED_TEMPLATES,
    )
    env.filters["wareki"] = to_wareki
    env.filters["jst"] = format_jst
    for name in env.list_templates():  # compiled now, so no request reads a template from disk
        env.get_template(name)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", landing)
    app.router.add_static("/static", HERE / "static", append_version=True)
    for module in (
        auth,
        contractor_packages,
        contractor_uploads,
        contractor_certificates,
        staff,
        sensitive_approvals,
        accounts,
        compliance,
        compliance_reports,
        api,
        inbox,
        inbox_chain,
        return_pickup,
        staff_quarantine,
        inspections,
        incidents,
        staff_certificates,
        compliance_audit,
        compliance_findings,
        print_logs,
        staff_printing,
        metrics,
    ):
        module.add_routes(app)
    return app
