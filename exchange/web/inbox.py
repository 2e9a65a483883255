"""The inbox: what contractors sent back, for ward staff of the owning section (and, for a sub-contractor's upload,
the contractor above it), with taking a file and deciding on a quarantined one.

``/staff/inbound`` lists the section's uploads (who sent what, when, kind, size, records, state);
``/staff/inbound/{id}`` shows one with its actions; ``/inbound/{id}/download`` hands the plain content over (the
content is read from the sealed store as it is sent), after a register line naming the person and an audit event
are committed. Release and discard apply to quarantined uploads only and are recorded the same way.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from exchange.blobs.store import BlobError
from exchange.identity.authorisation import Action, ContractScope, Decision, contract_scope, decide
from exchange.inbound import inbox, uploads
from exchange.keys.sealing import SealingError
from exchange.web.context import Page, error_page, page
from exchange.web.guards import public_id_param, see_other
from exchange.web.responses import content_disposition
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundStatus
from ledger.models.parties import PersonRole
from ledger.registers.handover import record


def person_label(ctx: Page) -> str:
    """The signed-in person as register lines name people: name and code (the login is the code)."""
    if ctx.principal.person_name:
        return f"{ctx.principal.person_name}（{ctx.principal.login}）"
    return ctx.principal.login


async def authorised_upload(ctx: Page, action: Action, public_id: str) -> tuple[inbox.InboxItem, ContractScope]:
    """Load an upload and decide ``action`` on it: for ward people against its own contract, for a contractor
    against the parent of its contract (the chain 丙→乙); refusals are audited and answered 404/403."""
    found = await inbox.item(ctx.session, public_id)
    contract: Contract | None = found.contract if found is not None else None
    if found is not None and ctx.principal.is_contractor:
        parent_id = found.contract.parent_id
        contract = await ctx.session.get(Contract, parent_id) if parent_id is not None else None
    if found is None or contract is None:
        hidden = Decision(False, "object.unknown", "", hidden=True)
        await ctx.deny(action, hidden, object_type="inbound_file", object_id=public_id)
        raise AssertionError("unreachable")
    scope = await contract_scope(ctx.session, contract, utcnow())
    decision = decide(ctx.principal, action, scope)
    if not decision.allowed:
        await ctx.deny(action, decision, object_type="inbound_file", object_id=public_id)
    return found, scope


async def inbox_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        decision = decide(ctx.principal, Action.INBOUND_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.INBOUND_VIEW, decision)
        section = ctx.principal.section if ctx.principal.role is PersonRole.STAFF else None
        status = request.query.get("status")
        wanted = InboundStatus(status) if status in {s.value for s in InboundStatus} else None
        found = await inbox.items(ctx.session, section=section, status=wanted)
        context = {"items": found, "section": section, "status": wanted, "statuses": inbox.STATUS_LABELS}
        return ctx.render("staff_inbox.html", context)


async def item_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "upload_id")
    async with page(request) as ctx:
        found, _scope = await authorised_upload(ctx, Action.INBOUND_VIEW, public_id)
        can_take = decide(ctx.principal, Action.INBOUND_FETCH, _scope).allowed
        can_decide = decide(ctx.principal, Action.INBOUND_DECIDE, _scope).allowed
        context = {"item": found, "can_take": can_take, "can_decide": can_decide, "error": None}
        return ctx.render("staff_inbox_item.html", context)


async def download(request: web.Request) -> web.StreamResponse:
    """Hand the plain content over: recorded (register line naming the person, audit event) and committed first,
    so the record stands even if the transfer breaks off."""
    public_id = public_id_param(request, "upload_id")
    async with page(request, view=False) as ctx:
        found, _scope = await authorised_upload(ctx, Action.INBOUND_FETCH, public_id)
        keyring, blobs = ctx.deps.keyring, ctx.deps.blobs
        if keyring is None or blobs is None:
            raise error_page(request, 503, "提出ファイルの取出しは現在利用できません。")
        try:
            inbox.check_takeable(found.upload, reviewer=not ctx.principal.is_contractor)
        except inbox.InboxRefused as refused:
            raise error_page(request, 400, refused.reason_ja) from None
        await record(ctx.session, inbox.fetched_entry(found, person_label(ctx), "portal"))
        detail = {"status": found.upload.status.value, "size": found.upload.size}
        ctx.audit(Action.INBOUND_FETCH, object_type="inbound_file", object_id=public_id, detail=detail)
        await ctx.session.commit()
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": content_disposition(found.upload.file_name, "upload.bin"),
                "Content-Length": str(found.upload.size),
            }
        )
        try:
            chunks = uploads.read_upload(blobs, keyring, found.upload)
            first = await anext(chunks, b"")
        except (OSError, SealingError, BlobError):
            raise error_page(
                request, 503, "提出ファイルを読み出せません。情報システム担当に連絡してください。"
            ) from None
        await response.prepare(request)
        await response.write(first)
        # A fault after the first chunk cuts the transfer short (Content-Length is then not met): never a
        # complete-looking file with part of its content.
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response


async def _decision_form(ctx: Page, public_id: str) -> tuple[inbox.InboxItem, str]:
    form = await ctx.form()
    found, _scope = await authorised_upload(ctx, Action.INBOUND_DECIDE, public_id)
    return found, str(form.get("reason", ""))


def _refused(ctx: Page, found: inbox.InboxItem, message: str) -> web.Response:
    context = {"item": found, "can_take": False, "can_decide": True, "error": message}
    return ctx.render("staff_inbox_item.html", context, status=400)


async def release_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "upload_id")
    async with page(request, view=False) as ctx:
        found, reason = await _decision_form(ctx, public_id)
        try:
            await inbox.release(ctx.session, found, by=person_label(ctx), reason=reason)
        except inbox.InboxRefused as refused:
            return _refused(ctx, found, refused.reason_ja)
        detail = {"op": "release", "reason": reason.strip()[:500]}
        ctx.audit(Action.INBOUND_DECIDE, object_type="inbound_file", object_id=public_id, detail=detail)
        return see_other(f"/staff/inbound/{quote(public_id)}")


async def discard_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "upload_id")
    async with page(request, view=False) as ctx:
        found, reason = await _decision_form(ctx, public_id)
        blobs = ctx.deps.blobs
        if blobs is None:
            raise error_page(request, 503, "提出ファイルの破棄は現在利用できません。")
        try:
            await inbox.discard(ctx.session, blobs, found, by=person_label(ctx), reason=reason)
        except inbox.InboxRefused as refused:
            return _refused(ctx, found, refused.reason_ja)
        detail = {"op": "discard", "reason": reason.strip()[:500]}
        ctx.audit(Action.INBOUND_DECIDE, object_type="inbound_file", object_id=public_id, detail=detail)
        return see_other(f"/staff/inbound/{quote(public_id)}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/inbound", inbox_page)
    app.router.add_get("/staff/inbound/{upload_id}", item_page)
    app.router.add_post("/staff/inbound/{upload_id}/release", release_post)
    app.router.add_post("/staff/inbound/{upload_id}/discard", discard_post)
    app.router.add_get("/inbound/{upload_id}/download", download)
