"""The portal's aiohttp application: middleware, health check, landing page and the route modules."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.logs import correlated
from exchange.web import (
    api,
    auth,
    compliance,
    compliance_reports,
    contractor_certificates,
    contractor_packages,
    contractor_uploads,
    sessions,
    staff,
)
from exchange.web.context import DEPS, SECURE_COOKIES, SESSIONS, PortalDeps, page
from ledger.models import Contract
from ledger.wareki import JST, to_wareki

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


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except (SQLAlchemyError, OSError):
        database = "unreachable"
    status = "ok" if database == "ok" else "degraded"
    return web.json_response({"status": status, "database": database}, status=200 if status == "ok" else 503)


async def landing(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session, session.begin():
        signed_in = await sessions.current(session, request) is not None
    if not signed_in:
        return aiohttp_jinja2.render_template("login.html", request, {"error": None})
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


def create_app(
    sessions: async_sessionmaker[AsyncSession], *, secure_cookies: bool = False, deps: PortalDeps | None = None
) -> web.Application:
    app = web.Application(middlewares=[security_middleware])
    app[SESSIONS] = sessions
    app[SECURE_COOKIES] = secure_cookies
    app[DEPS] = deps or PortalDeps()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        auto_reload=False,
    )
    env.filters["wareki"] = to_wareki
    env.filters["jst"] = _jst
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
        compliance,
        compliance_reports,
        api,
    ):
        module.add_routes(app)
    return app


def _jst(moment: datetime | None) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M") if moment is not None else "—"
