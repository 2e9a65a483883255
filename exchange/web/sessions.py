"""Server-side login sessions: a random cookie, only its hash in the database, CSRF token per session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Account, WebSession
from ledger.models.base import utcnow

COOKIE = "handover_session"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=10)
_OCCASION_SALT = b"handover.occasion\x00"


@dataclass(frozen=True)
class Login:
    account: Account
    csrf_token: str
    occasion: str  # see ``occasion``


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def occasion(kind: str, token_hash: bytes) -> str:
    """The login occasion a request belongs to, as the audit log keeps it: ``kind`` ("web" for a portal login,
    "api" for an API token) and a hash of the stored token hash. Neither the cookie nor the token can be
    recovered from it, and it differs from the ``web_sessions`` column, so a log reader cannot even look the
    live session up; a new login gets a new token, hence a new occasion."""
    return f"{kind}:{hashlib.sha256(_OCCASION_SALT + token_hash).hexdigest()}"


async def start(
    session: AsyncSession,
    request: web.Request,
    response: web.StreamResponse,
    account: Account,
    *,
    secure: bool,
    ip: str,
) -> None:
    """Begin a fresh session (a new token at every login, so a planted cookie is worthless).

    Any session the browser already carried is ended: a login never inherits an earlier session.
    """
    old = request.cookies.get(COOKIE)
    if old:
        await session.execute(delete(WebSession).where(WebSession.token_hash == digest(old)))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_hash=digest(token), account_id=account.id, csrf_token=secrets.token_urlsafe(32), source_ip=ip)
    )
    response.set_cookie(COOKIE, token, httponly=True, secure=secure, samesite="Strict", path="/")


async def current(session: AsyncSession, request: web.Request) -> Login | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    row = (await session.execute(select(WebSession).where(WebSession.token_hash == digest(token)))).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT:
        await session.delete(row)
        return None
    row.last_seen_at = now
    account = await session.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    return Login(account=account, csrf_token=row.csrf_token, occasion=occasion("web", row.token_hash))


async def end(session: AsyncSession, request: web.Request, response: web.StreamResponse) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))
    response.del_cookie(COOKIE, path="/")
