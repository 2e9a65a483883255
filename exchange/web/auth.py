"""Sign-in: password, then TOTP (or first-time setup), invitation codes, lockout and logout.

A correct password alone never opens a session for anyone who needs a second factor: it opens a short-lived
``LoginChallenge`` (its own cookie, bound to the source address) that only the TOTP or setup page accepts.
Every attempt is audited; failures feed ``exchange.identity.lockout``.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity import audit_log as audit
from exchange.identity import invitations, lockout, totp
from exchange.identity.accounts import hash_password, hash_password_async, verify_password_async
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import load_principal, network_allows
from exchange.web import sessions
from exchange.web.context import DEPS, SECURE_COOKIES, SESSIONS, error_page, page, source_ip
from ledger.models.base import utcnow
from ledger.models.identity import LoginChallenge, TotpFactor
from ledger.models.parties import Account, PersonRole

CHALLENGE_COOKIE: Final = "handover_challenge"
# Before any session exists, forms carry a token that must equal this cookie's value (double submit): another
# site can make a browser post the login or invitation form, but cannot read or set the cookie (SameSite=Strict).
PRESESSION_COOKIE: Final = "handover_presession"
CHALLENGE_TTL: Final = {"verify": timedelta(minutes=5), "setup": timedelta(minutes=30)}
MIN_PASSWORD: Final = 12


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login name is unknown, so the answer takes as long as for a real account."""
    return hash_password(secrets.token_urlsafe(16))


LOCKED_JA: Final = (
    "ログインの失敗が続いたため、一時的にログインできません。しばらく時間をおいてから再度お試しください。"
)
FAILED_JA: Final = "ログインIDまたはパスワードが正しくありません。"


def totp_required(request: web.Request, role: PersonRole) -> bool:
    return role is not PersonRole.STAFF or request.app[DEPS].staff_totp_required


def _actor(account: Account | None) -> audit.Actor:
    if account is None:
        return audit.ANONYMOUS
    return audit.Actor(account.id, account.person_id)


def prelogin_page(request: web.Request, template: str, error: str | None = None, status: int = 200) -> web.Response:
    """A form shown before sign-in (login, invitation) with its pre-session CSRF token."""
    token = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(32)
    response = aiohttp_jinja2.render_template(template, request, {"error": error, "csrf_token": token}, status=status)
    response.set_cookie(
        PRESESSION_COOKIE, token, httponly=True, secure=request.app[SECURE_COOKIES], samesite="Strict", path="/"
    )
    return response


def _login_page(request: web.Request, error: str, status: int) -> web.Response:
    return prelogin_page(request, "login.html", error, status)


async def _prelogin_form(request: web.Request) -> Mapping[str, Any]:
    """The posted pre-login form, after its token has been checked against the pre-session cookie."""
    form = await request.post()
    cookie = request.cookies.get(PRESESSION_COOKIE, "")
    if not cookie or not secrets.compare_digest(str(form.get("csrf_token", "")), cookie):
        async with request.app[SESSIONS]() as session, session.begin():
            audit.record(
                session,
                audit.ANONYMOUS,
                source_ip(request),
                AuditAction.CSRF_REJECTED,
                "denied",
                detail={"path": request.path},
            )
        raise error_page(request, 403, "不正な要求です。画面を開き直してから操作してください。")
    return form


async def _open_challenge(
    session: AsyncSession, request: web.Request, account: Account, purpose: str, *, invitation_id: int | None = None
) -> web.Response:
    token = secrets.token_urlsafe(32)
    await session.execute(delete(LoginChallenge).where(LoginChallenge.account_id == account.id))
    session.add(
        LoginChallenge(
            token_hash=sessions.digest(token),
            account_id=account.id,
            purpose=purpose,
            invitation_id=invitation_id,
            csrf_token=secrets.token_urlsafe(32),
            source_ip=source_ip(request),
        )
    )
    response = web.Response(status=303, headers={"Location": f"/login/{'totp' if purpose == 'verify' else 'setup'}"})
    response.set_cookie(
        CHALLENGE_COOKIE, token, httponly=True, secure=request.app[SECURE_COOKIES], samesite="Strict", path="/login"
    )
    return response


async def _challenge(session: AsyncSession, request: web.Request, purpose: str) -> LoginChallenge:
    token = request.cookies.get(CHALLENGE_COOKIE, "")
    row = (
        await session.execute(select(LoginChallenge).where(LoginChallenge.token_hash == sessions.digest(token)))
    ).scalar_one_or_none()
    if (
        row is None
        or row.purpose != purpose
        or row.source_ip != source_ip(request)
        or utcnow() - row.created_at > CHALLENGE_TTL[purpose]
    ):
        raise web.HTTPSeeOther("/")
    return row


async def _complete(
    session: AsyncSession, request: web.Request, account: Account, challenge: LoginChallenge | None, now: datetime
) -> web.Response:
    ip = source_ip(request)
    if challenge is not None:
        await session.delete(challenge)
    lockout.record_attempt(session, account_id=account.id, source_ip=ip, succeeded=True, now=now)
    await lockout.succeeded(session, account_id=account.id, source_ip=ip)
    audit.record(
        session,
        _actor(account),
        ip,
        AuditAction.LOGIN_SUCCEEDED,
        "allowed",
        object_type="account",
        object_id=account.public_id,
    )
    response = web.Response(status=303, headers={"Location": "/"})
    response.del_cookie(CHALLENGE_COOKIE, path="/login")
    await sessions.start(session, request, response, account, secure=request.app[SECURE_COOKIES], ip=ip)
    return response


def _buckets(ip: str, account_id: int | None) -> list[lockout.Bucket]:
    buckets = [lockout.login_address_bucket(ip)]
    if account_id is not None:
        buckets.append(lockout.account_bucket(account_id))
    return buckets


async def _reserve(request: web.Request, account: Account | None, ip: str, now: datetime) -> bool:
    """Count this attempt before its secret is checked; False (and the refusal audited) while a lock holds.

    The caller must not hold uncommitted writes: the count commits on its own connection.
    """
    account_id = account.id if account is not None else None
    until = await lockout.reserve(request.app[SESSIONS], _buckets(ip, account_id), now)
    if until is None:
        return True
    async with request.app[SESSIONS]() as session, session.begin():
        audit.record(
            session,
            _actor(account),
            ip,
            AuditAction.LOGIN_LOCKED,
            "denied",
            object_type="account",
            object_id=account.public_id if account else None,
            detail={"until": until.isoformat()},
        )
    return False


async def _fail(session: AsyncSession, account: Account | None, ip: str, now: datetime, action: AuditAction) -> None:
    lockout.record_attempt(session, account_id=account.id if account else None, source_ip=ip, succeeded=False, now=now)
    audit.record(
        session,
        _actor(account),
        ip,
        action,
        "failed",
        object_type="account",
        object_id=account.public_id if account else None,
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    return prelogin_page(request, "login.html")


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await _prelogin_form(request)
    name = str(form.get("login", ""))
    password = str(form.get("password", ""))
    ip = source_ip(request)
    now = utcnow()
    async with request.app[SESSIONS]() as session:
        account = (await session.execute(select(Account).where(Account.login == name))).scalar_one_or_none()
    if not await _reserve(request, account, ip, now):
        return _login_page(request, LOCKED_JA, 429)
    known_hash = account.password_hash if account else await asyncio.to_thread(_dummy_hash)
    valid = await verify_password_async(known_hash, password)
    async with request.app[SESSIONS]() as session, session.begin():
        if account is not None:
            account = await session.get(Account, account.id)
        if account is None or not valid or account.disabled_at is not None:
            await _fail(session, account, ip, now, AuditAction.LOGIN_FAILED)
            return _login_page(request, FAILED_JA, 401)
        network = network_allows(await load_principal(session, account), ip)
        if not network.allowed:
            # Answered exactly as a wrong password (status, page; the hash was checked either way, so the time
            # matches too): a stolen password tried from elsewhere must not learn that it is right.
            lockout.record_attempt(session, account_id=account.id, source_ip=ip, succeeded=False, now=now)
            audit.record(
                session,
                _actor(account),
                ip,
                AuditAction.LOGIN_NETWORK_DENIED,
                "denied",
                object_type="account",
                object_id=account.public_id,
                detail={"code": network.code},
            )
            return _login_page(request, FAILED_JA, 401)
        factor = (
            await session.execute(select(TotpFactor).where(TotpFactor.account_id == account.id))
        ).scalar_one_or_none()
        needs_factor = totp_required(request, account.role)
        audit.record(
            session,
            _actor(account),
            ip,
            AuditAction.LOGIN_PASSWORD_OK,
            "allowed",
            object_type="account",
            object_id=account.public_id,
        )
        if account.must_change_password or (needs_factor and factor is None):
            return await _open_challenge(session, request, account, "setup")
        if factor is not None:
            return await _open_challenge(session, request, account, "verify")
        return await _complete(session, request, account, None, now)


async def totp_get(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session, session.begin():
        challenge = await _challenge(session, request, "verify")
        return aiohttp_jinja2.render_template("totp.html", request, {"csrf_token": challenge.csrf_token, "error": None})


async def totp_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ip = source_ip(request)
    now = utcnow()
    keyring = request.app[DEPS].keyring
    async with request.app[SESSIONS]() as session, session.begin():
        challenge = await _challenge(session, request, "verify")
        if not secrets.compare_digest(str(form.get("csrf_token", "")), challenge.csrf_token):
            raise error_page(request, 403, "不正な要求です。最初からログインしてください。")
        account = await session.get(Account, challenge.account_id)
        factor = (
            await session.execute(select(TotpFactor).where(TotpFactor.account_id == challenge.account_id))
        ).scalar_one_or_none()
        assert account is not None and factor is not None
        if keyring is None:
            raise error_page(request, 503, "二要素認証の鍵が設定されていないため、ログインできません。")
        if not await _reserve(request, account, ip, now):
            await session.delete(challenge)
            return _login_page(request, LOCKED_JA, 429)
        secret = totp.unseal_secret(keyring, factor.sealed_secret, account.public_id)
        step = totp.matching_step(secret, str(form.get("code", "")), now, after_step=factor.last_step)
        if step is None:
            await _fail(session, account, ip, now, AuditAction.LOGIN_TOTP_FAILED)
            context = {"csrf_token": challenge.csrf_token, "error": "確認コードが正しくありません。"}
            return aiohttp_jinja2.render_template("totp.html", request, context, status=401)
        factor.last_step = step
        return await _complete(session, request, account, challenge, now)


async def _setup_context(
    request: web.Request, session: AsyncSession, challenge: LoginChallenge, error: str | None
) -> dict[str, object]:
    account = await session.get(Account, challenge.account_id)
    assert account is not None
    context: dict[str, object] = {
        "csrf_token": challenge.csrf_token,
        "login": account.login,
        "error": error,
        "totp_required": totp_required(request, account.role),
        "min_password": MIN_PASSWORD,
    }
    if context["totp_required"]:
        keyring = request.app[DEPS].keyring
        if keyring is None:
            raise error_page(request, 503, "二要素認証の鍵が設定されていないため、設定できません。")
        if challenge.pending_secret is None:
            challenge.pending_secret = totp.seal_secret(keyring, totp.new_secret(), account.public_id)
        secret = totp.unseal_secret(keyring, challenge.pending_secret, account.public_id)
        context["secret"] = totp.grouped(secret)
        context["uri"] = totp.provisioning_uri(secret, account.login)
    return context


async def setup_get(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session, session.begin():
        challenge = await _challenge(session, request, "setup")
        context = await _setup_context(request, session, challenge, None)
        return aiohttp_jinja2.render_template("setup.html", request, context)


def _password_problem(login: str, password: str, confirm: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"パスワードは{MIN_PASSWORD}文字以上にしてください。"
    if password != confirm:
        return "確認用のパスワードが一致しません。"
    if login.casefold() in password.casefold():
        return "パスワードにログインIDを含めないでください。"
    return None


async def setup_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ip = source_ip(request)
    now = utcnow()
    async with request.app[SESSIONS]() as session, session.begin():
        challenge = await _challenge(session, request, "setup")
        if not secrets.compare_digest(str(form.get("csrf_token", "")), challenge.csrf_token):
            raise error_page(request, 403, "不正な要求です。最初からやり直してください。")
        account = await session.get(Account, challenge.account_id)
        assert account is not None
        password = str(form.get("password", ""))
        problem = _password_problem(account.login, password, str(form.get("password_confirm", "")))
        if problem is not None:
            context = await _setup_context(request, session, challenge, problem)
            return aiohttp_jinja2.render_template("setup.html", request, context, status=400)
        if not await _reserve(request, account, ip, now):
            await session.delete(challenge)
            return _login_page(request, LOCKED_JA, 429)
        keyring = request.app[DEPS].keyring
        if totp_required(request, account.role):
            if keyring is None or challenge.pending_secret is None:
                raise web.HTTPSeeOther("/login/setup")
            secret = totp.unseal_secret(keyring, challenge.pending_secret, account.public_id)
            step = totp.matching_step(secret, str(form.get("code", "")), now)
            if step is None:
                await _fail(session, account, ip, now, AuditAction.LOGIN_SETUP_TOTP_FAILED)
                context = await _setup_context(request, session, challenge, "確認コードが正しくありません。")
                return aiohttp_jinja2.render_template("setup.html", request, context, status=401)
            await session.execute(delete(TotpFactor).where(TotpFactor.account_id == account.id))
            session.add(
                TotpFactor(
                    account_id=account.id,
                    sealed_secret=challenge.pending_secret,
                    key_id=keyring.current.key_id,
                    last_step=step,
                    confirmed_at=now,
                )
            )
        if challenge.invitation_id is not None and not await invitations.consume(session, challenge.invitation_id, now):
            raise error_page(request, 400, "この招待コードは既に使用されたか、取り消されています。")
        account.password_hash = await hash_password_async(password)
        account.must_change_password = False
        audit.record(
            session,
            _actor(account),
            ip,
            AuditAction.ACCOUNT_SETUP_COMPLETED,
            "allowed",
            object_type="account",
            object_id=account.public_id,
            detail={"invitation": challenge.invitation_id is not None},
        )
        return await _complete(session, request, account, challenge, now)


INVITATION_FAILED_JA: Final = "招待コードが正しくないか、有効期限が切れています。"


async def invitation_get(request: web.Request) -> web.StreamResponse:
    return prelogin_page(request, "invitation.html")


async def invitation_post(request: web.Request) -> web.StreamResponse:
    form = await _prelogin_form(request)
    ip = source_ip(request)
    now = utcnow()
    if not await _reserve(request, None, ip, now):
        return prelogin_page(request, "invitation.html", LOCKED_JA, 429)
    async with request.app[SESSIONS]() as session, session.begin():
        invitation = await invitations.find_valid(session, str(form.get("code", "")), now)
        account = await session.get(Account, invitation.account_id) if invitation is not None else None
        if invitation is None or account is None or account.disabled_at is not None:
            await _fail(session, None, ip, now, AuditAction.INVITATION_FAILED)
            return prelogin_page(request, "invitation.html", INVITATION_FAILED_JA, 401)
        network = network_allows(await load_principal(session, account), ip)
        if not network.allowed:
            # Answered as an unknown code: a letter read by someone elsewhere must not confirm that it is live.
            lockout.record_attempt(session, account_id=None, source_ip=ip, succeeded=False, now=now)
            audit.record(
                session,
                _actor(account),
                ip,
                AuditAction.INVITATION_NETWORK_DENIED,
                "denied",
                object_type="invitation",
                object_id=invitation.public_id,
                detail={"code": network.code},
            )
            return prelogin_page(request, "invitation.html", INVITATION_FAILED_JA, 401)
        audit.record(
            session,
            _actor(account),
            ip,
            AuditAction.INVITATION_ACCEPTED,
            "allowed",
            object_type="invitation",
            object_id=invitation.public_id,
        )
        return await _open_challenge(session, request, account, "setup", invitation_id=invitation.id)


async def logout_post(request: web.Request) -> web.StreamResponse:
    async with page(request, view=False) as ctx:
        await ctx.form()
        ctx.audit(AuditAction.LOGOUT, object_type="account", object_id=ctx.principal.account_public_id)
        response = web.Response(status=303, headers={"Location": "/"})
        await sessions.end(ctx.session, request, response)
        return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_post)
    app.router.add_get("/login/totp", totp_get)
    app.router.add_post("/login/totp", totp_post)
    app.router.add_get("/login/setup", setup_get)
    app.router.add_post("/login/setup", setup_post)
    app.router.add_get("/invitation", invitation_get)
    app.router.add_post("/invitation", invitation_post)
    app.router.add_post("/logout", logout_post)
