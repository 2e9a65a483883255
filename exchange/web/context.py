"""What every portal handler shares: dependencies, the signed-in principal, CSRF checks, audit and rendering."""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from exchange.blobs.store import BlobStore
from exchange.delivery.package_blobs import Verifications
from exchange.identity import audit_log as audit
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Decision, Principal, load_principal, network_allows
from exchange.inbound import uploads as inbound
from exchange.intake.antivirus import StreamScanner
from exchange.keys import sealing
from exchange.web import sessions
from policies.pluginmanager import HandoverPlugins


@dataclass(frozen=True)
class PortalDeps:
    """What the portal needs beyond the database; ``exchange.hub`` builds it from the settings.

    Without a keyring, second factors cannot be set up or checked and passwords cannot be picked up; without a
    blob store (``blobs``, where every sealed file is kept), uploads are refused. ``connectors`` (the hub's, by
    name) let designation changes reach the endpoints (C-05); ``scanner`` checks uploads for viruses as intake
    does (C-12).
    """

    keyring: sealing.Keyring | None = None
    connector_kinds: Mapping[str, str] = field(default_factory=dict)
    data_dir: Path | None = None
    staff_totp_required: bool = True
    upload_limit: int = inbound.MAX_BYTES
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    scanner: StreamScanner | None = None
    # Reverse proxies (``web.trusted_proxies``) whose X-Forwarded-For is believed; see ``client_address``.
    trusted_proxies: tuple[str, ...] = ()
    # Who may scrape /metrics (``web.metrics_allow``), judged on ``source_ip``.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # The benefit plugins, for checks of returned data (``check_returned_records``); None: no plugin checks.
    plugins: HandoverPlugins | None = None
    # The hub's blob store, where sealed packages are served from; None: downloads are refused with a reason.
    blobs: BlobStore | None = None
    # The package blobs this process has verified, so a repeated download does not read the whole blob twice.
    verified: Verifications = field(default_factory=Verifications)


SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SECURE_COOKIES: web.AppKey[bool] = web.AppKey("secure_cookies")
DEPS: web.AppKey[PortalDeps] = web.AppKey("portal_deps")


def client_address(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the rightmost address in
    X-Forwarded-For that is not itself a trusted proxy.

    Entries left of the first untrusted one were written by the client and prove nothing, so they are never used
    (a client cannot slip an allowlisted address in front). Without trusted proxies the header is ignored.
    """
    if not trusted:
        return peer
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted]

    def is_trusted(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address in network for network in networks)

    chain = [item.strip() for header in forwarded_for for item in header.split(",") if item.strip()]
    candidate = peer
    while is_trusted(candidate) and chain:
        candidate = chain.pop()
    return candidate


def source_ip(request: web.Request) -> str:
    """The one place that decides the client's address: allowlists, lockout and audit all use it."""
    return client_address(
        request.remote or "", request.headers.getall("X-Forwarded-For", []), request.app[DEPS].trusted_proxies
    )


def error_page(request: web.Request, status: int, message: str) -> web.HTTPException:
    """An HTML (or, under /api/, JSON) error to raise, so that aiohttp never sees a returned exception."""
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        413: web.HTTPRequestEntityTooLarge,
        429: web.HTTPTooManyRequests,
        500: web.HTTPInternalServerError,
        503: web.HTTPServiceUnavailable,
        401: web.HTTPUnauthorized,
    }
    cls = classes[status]
    if request.path.startswith("/api/"):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return cls(
            text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json", headers=headers
        )
    body = aiohttp_jinja2.render_string("error.html", request, {"message": message, "status": status})
    return cls(text=body, content_type="text/html")


@dataclass
class Page:
    request: web.Request
    session: AsyncSession
    principal: Principal
    csrf_token: str
    ip: str
    # The login occasion (``exchange.web.sessions.occasion``), kept on every audit event of this request.
    login_session: str | None = None

    @property
    def actor(self) -> audit.Actor:
        p = self.principal
        return audit.Actor(p.account_id, p.person_id, p.party_id)

    @property
    def deps(self) -> PortalDeps:
        return self.request.app[DEPS]

    def audit(
        self,
        action: AuditAction | Action,
        outcome: audit.Outcome = "allowed",
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        audit.record(
            self.session,
            self.actor,
            self.ip,
            action,
            outcome,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            login_session=self.login_session,
        )

    async def deny(
        self,
        action: AuditAction | Action,
        decision: Decision,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
    ) -> NoReturn:
        """Record the refusal and answer 404 or 403 with the reason."""
        await self.commit_alone(action, object_type=object_type, object_id=object_id, detail={"code": decision.code})
        if decision.hidden:
            raise error_page(self.request, 404, "対象が見つかりません。")
        raise error_page(self.request, 403, decision.reason_ja)

    async def commit_alone(
        self,
        action: AuditAction | Action,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        """Discard the request's pending changes and commit just a 'denied' event.

        The HTTP error raised next would roll everything back, and a second connection cannot write while
        this one holds SQLite's write lock, so the event is committed on this very session.
        """
        await self.session.rollback()
        self.audit(action, "denied", object_type=object_type, object_id=object_id, detail=detail)
        await self.session.commit()

    async def form(self) -> Mapping[str, Any]:
        """The posted form, after its CSRF token has been checked."""
        data = await self.request.post()
        if not secrets.compare_digest(str(data.get("csrf_token", "")), self.csrf_token):
            await self.commit_alone(AuditAction.CSRF_REJECTED, detail={"path": self.request.path})
            raise error_page(self.request, 403, "不正な要求です。画面を開き直してから操作してください。")
        return data

    def render(self, template: str, context: Mapping[str, Any], *, status: int = 200) -> web.Response:
        full = {"principal": self.principal, "csrf_token": self.csrf_token, **context}
        return aiohttp_jinja2.render_template(template, self.request, full, status=status)


@asynccontextmanager
async def page(request: web.Request, *, view: bool = True) -> AsyncIterator[Page]:
    """Open a transaction for a signed-in request; redirect to the login page otherwise.

    The network allowlist is checked on every request, not only at login, so a changed allowlist or a session
    carried to another network takes effect at once. ``view`` audits the request as a page view.
    """
    ip = source_ip(request)
    async with request.app[SESSIONS]() as session, transaction(session):
        login = await sessions.current(session, request)
        if login is None:
            raise web.HTTPSeeOther("/")
        principal = await load_principal(session, login.account)
        ctx = Page(request, session, principal, login.csrf_token, ip, login.occasion)
        network = network_allows(principal, ip)
        if not network.allowed:
            await ctx.deny(AuditAction.ACCESS_NETWORK, network)
        if view:
            ctx.audit(AuditAction.PAGE_VIEW, detail={"path": request.path})
        yield ctx


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[None]:
    """Commit when the handler returns, roll back when it raises.

    Unlike ``session.begin()``, a handler may commit early (before streaming a file) or roll back and commit
    an audit event on its own (``Page.commit_alone``).
    """
    try:
        yield
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
