"""Staff and the ZIPs in their return folder: confirm that one arrived, then pick up its password on this page,
another occasion and channel than the folder it lies in (``exchange.inbound.return_passwords``)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from exchange.identity.authorisation import Action
from exchange.inbound import inbox, return_passwords
from exchange.passwords.release import PasswordRefused
from exchange.web.context import Page, error_page, page
from exchange.web.guards import public_id_param, see_other, signed_in_person
from exchange.web.inbox import authorised_upload
from ledger.models.inbound import InboundFile
from ledger.models.return_folders import ReturnDelivery
from policies.channels import PasswordChannel


async def _delivery(ctx: Page, action: Action, public_id: str) -> tuple[inbox.InboxItem, ReturnDelivery]:
    """The return delivery ``public_id``, authorised through its upload (unknown ids answer as hidden)."""
    upload_id = await ctx.session.scalar(
        select(InboundFile.public_id)
        .join(ReturnDelivery, ReturnDelivery.inbound_file_id == InboundFile.id)
        .where(ReturnDelivery.public_id == public_id)
    )
    found, _scope = await authorised_upload(ctx, action, upload_id or public_id)
    assert found.delivery is not None
    return found, found.delivery


async def acknowledge_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "return_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        found, delivery = await _delivery(ctx, Action.RETURN_PASSWORD, public_id)
        first = await return_passwords.acknowledge(ctx.session, delivery, await signed_in_person(ctx), found.contract)
        ctx.audit(Action.RETURN_PASSWORD, object_type="return", object_id=public_id, detail={"acknowledged": first})
        return see_other(f"/staff/inbound/{found.upload.public_id}")


async def password_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "return_id")
    async with page(request) as ctx:
        found, delivery = await _delivery(ctx, Action.RETURN_PASSWORD, public_id)
        context = {"item": found, "delivery": delivery, "password": None, "refusal": None}
        return ctx.render("return_password.html", context)


async def password_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "return_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        found, delivery = await _delivery(ctx, Action.RETURN_PASSWORD, public_id)
        keyring = ctx.deps.keyring
        if keyring is None:
            raise error_page(request, 503, "パスワードの受取りは現在利用できません。")
        staff = await signed_in_person(ctx)
        context: dict[str, object] = {"item": found, "delivery": delivery, "password": None, "refusal": None}
        try:
            password = await return_passwords.release(
                ctx.session, delivery, staff, PasswordChannel.PORTAL, keyring=keyring
            )
        except PasswordRefused as refused:
            detail = {"code": str(refused.decision.code)}
            ctx.audit(Action.RETURN_PASSWORD, "denied", object_type="return", object_id=public_id, detail=detail)
            return ctx.render("return_password.html", {**context, "refusal": refused.decision}, status=403)
        ctx.audit(Action.RETURN_PASSWORD, object_type="return", object_id=public_id, detail={"channel": "portal"})
        return ctx.render("return_password.html", {**context, "password": password})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/staff/returns/{return_id}/acknowledge", acknowledge_post)
    app.router.add_get("/staff/returns/{return_id}/password", password_page)
    app.router.add_post("/staff/returns/{return_id}/password", password_post)
