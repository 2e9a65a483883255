"""The portal's aiohttp application: health check, landing page and login."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.accounts import verify_password
from exchange.logs import correlated
from exchange.web import sessions
from ledger.models import Account, Contract
from ledger.wareki import to_wareki

log = logging.getLogger(__name__)

SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SECURE_COOKIES: web.AppKey[bool] = web.AppKey("secure_cookies")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    with correlated(request.headers.get("X-Request-Id")):
        response = await handler(request)
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
        login = await sessions.current(session, request)
        if login is None:
            return aiohttp_jinja2.render_template("login.html", request, {"error": None})
        contracts = (
            await session.execute(
                select(Contract)
                .options(
                    selectinload(Contract.party),
                    selectinload(Contract.program),
                    selectinload(Contract.parent).selectinload(Contract.party),
                )
                .order_by(Contract.starts_on, Contract.code)
            )
        ).scalars()
        return aiohttp_jinja2.render_template(
            "home.html",
            request,
            {"account": login.account, "csrf_token": login.csrf_token, "contracts": list(contracts)},
        )


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login_name = str(form.get("login", ""))
    password = str(form.get("password", ""))
    async with request.app[SESSIONS]() as session, session.begin():
        account = (await session.execute(select(Account).where(Account.login == login_name))).scalar_one_or_none()
        if account is None or account.disabled_at is not None or not verify_password(account.password_hash, password):
            log.warning("failed login from %s", request.remote)
            response = aiohttp_jinja2.render_template(
                "login.html", request, {"error": "ログインIDまたはパスワードが正しくありません。"}, status=401
            )
            return response
        response = web.Response(status=303, headers={"Location": "/"})
        await sessions.start(session, response, account, secure=request.app[SECURE_COOKIES], ip=request.remote or "")
        return response


async def logout_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with request.app[SESSIONS]() as session, session.begin():
        login = await sessions.current(session, request)
        if login is None or not secrets.compare_digest(str(form.get("csrf_token", "")), login.csrf_token):
            raise web.HTTPForbidden(text="不正な要求です。")
        response = web.Response(status=303, headers={"Location": "/"})
        await sessions.end(session, request, response)
        return response


def create_app(session_maker: async_sessionmaker[AsyncSession], *, secure_cookies: bool = False) -> web.Application:
    app = web.Application(middlewares=[security_middleware])
    app[SESSIONS] = session_maker
    app[SECURE_COOKIES] = secure_cookies
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.filters["wareki"] = to_wareki
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", landing)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout_post)
    return app
