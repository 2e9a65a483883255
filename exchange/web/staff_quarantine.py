"""Ward staff and quarantined drops: release (re-queue after a fix), discard (crypto-erase), take out the original.

The list is on the staff page (``staff.staff_home``); these are its forms. Only staff of the section owning the
drop's route may act (``authorisation.decide_quarantine``); each action is an audit event and a register line
naming the member of staff (``exchange.intake.quarantine_decisions``).
"""

from __future__ import annotations

from aiohttp import web

from exchange.blobs.store import BlobError
from exchange.identity.authorisation import Action, decide_quarantine
from exchange.intake import quarantine_decisions as decisions
from exchange.keys.sealing import UnsealError
from exchange.web.context import Page, error_page, page
from exchange.web.guards import public_id_param, see_other
from exchange.web.responses import content_disposition


def _staff_name(ctx: Page) -> str:
    if ctx.principal.person_name:
        return f"{ctx.principal.person_name}（{ctx.principal.login}）"
    return ctx.principal.login


async def _authorised(ctx: Page, action: Action, public_id: str) -> decisions.HeldDrop:
    drop = await decisions.find_held(ctx.session, public_id)
    if drop is None:
        await ctx.commit_alone(action, object_type="intake", object_id=public_id, detail={"code": "not_held"})
        raise error_page(ctx.request, 404, "対象の隔離ファイルが見つかりません（既に処理済みのおそれ）。")
    decision = decide_quarantine(ctx.principal, action, drop.section)
    if not decision.allowed:
        await ctx.deny(action, decision, object_type="intake", object_id=public_id)
    return drop


async def release_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "intake_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        drop = await _authorised(ctx, Action.QUARANTINE_RELEASE, public_id)
        try:
            queued = await decisions.release(ctx.session, drop, _staff_name(ctx))
        except decisions.QuarantineError as exc:
            raise error_page(request, 400, exc.reason_ja) from None
        ctx.audit(
            Action.QUARANTINE_RELEASE, object_type="intake", object_id=public_id, detail={"queued": queued.public_id}
        )
        return see_other("/staff")


async def discard_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "intake_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        drop = await _authorised(ctx, Action.QUARANTINE_DISCARD, public_id)
        reason = str(form.get("reason", "")).strip()[:500]
        if not reason:
            raise error_page(request, 400, "破棄の理由を入力してください。")
        if ctx.deps.blobs is None:
            raise error_page(request, 503, "この画面からは破棄できません（保管先が設定されていません）。")
        try:
            await decisions.discard(ctx.session, ctx.deps.blobs, drop, _staff_name(ctx), reason)
        except decisions.QuarantineError as exc:
            raise error_page(request, 400, exc.reason_ja) from None
        ctx.audit(Action.QUARANTINE_DISCARD, object_type="intake", object_id=public_id, detail={"reason": reason})
        return see_other("/staff")


async def download_post(request: web.Request) -> web.StreamResponse:
    """The original bytes, to the member of staff of the owning section; recorded before the transfer starts."""
    public_id = public_id_param(request, "intake_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        drop = await _authorised(ctx, Action.QUARANTINE_DOWNLOAD, public_id)
        keyring, blobs = ctx.deps.keyring, ctx.deps.blobs
        if keyring is None or blobs is None:
            raise error_page(request, 503, "この画面からは取り出せません（鍵または保管先が設定されていません）。")
        try:
            sealed = await decisions.record_download(ctx.session, blobs, drop, _staff_name(ctx))
        except decisions.QuarantineError as exc:
            raise error_page(request, 400, exc.reason_ja) from None
        chunks = decisions.original(blobs, sealed, keyring, drop)
        try:
            first = await anext(chunks)  # opens and authenticates the header before anything is recorded as sent
        except (UnsealError, BlobError):
            raise error_page(request, 500, "隔離ファイルを復号できません（破損または改ざんのおそれ）。") from None
        ctx.audit(
            Action.QUARANTINE_DOWNLOAD, object_type="intake", object_id=public_id, detail={"size": drop.intake.size}
        )
        # Commit before streaming: the register line and the audit stand even if the transfer is cut.
        await ctx.session.commit()
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": content_disposition(drop.intake.file_name, "quarantined.bin"),
            }
        )
        await response.prepare(request)
        await response.write(first)
        # A chunk that fails to authenticate later ends the transfer with an error: the client sees a broken
        # download, never altered bytes.
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response


def add_routes(app: web.Application) -> None:
    app.router.add_post("/staff/quarantine/{intake_id}/release", release_post)
    app.router.add_post("/staff/quarantine/{intake_id}/discard", discard_post)
    app.router.add_post("/staff/quarantine/{intake_id}/download", download_post)
