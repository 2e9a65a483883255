"""Ward staff's side of printing (C-17, C-03): a contract's print-log findings, the printer's deliveries of sealed
notices to confirm, and the form to record a hand-over made on paper or in person.

Staff see their own section's contracts (``Action.STAFF_VIEW``); confirming and recording are ward changes, each
an audit event and a register line naming the signed-in member of staff.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from exchange.identity.authorisation import Action
from exchange.oversight import print_logs, printed_notices
from exchange.web.context import Page, error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other
from exchange.web.print_logs import KIND_LABELS, parse_count, parse_day
from ledger.models.contracts import Contract, Designation
from ledger.models.parties import Person


def _staff_label(ctx: Page) -> str:
    """The signed-in member of staff as register lines name people: name and login code."""
    if ctx.principal.person_name:
        return f"{ctx.principal.person_name}（{ctx.principal.login}）"
    return ctx.principal.login


async def _designated_people(ctx: Page, contract: Contract) -> list[Person]:
    rows = await ctx.session.scalars(
        select(Person)
        .join(Designation, Designation.person_id == Person.id)
        .where(Designation.contract_id == contract.id, Designation.revoked_at.is_(None))
        .order_by(Person.code)
    )
    return list(rows)


async def _context(ctx: Page, contract: Contract, **extra: Any) -> dict[str, Any]:
    findings = await print_logs.contract_findings(ctx.session, contract)
    return {
        "contract": contract,
        "findings": findings,
        "texts": {finding.id: print_logs.finding_text(finding) for finding in findings},
        "labels": KIND_LABELS,
        "deliveries": await printed_notices.deliveries(ctx.session, contract),
        "people": await _designated_people(ctx, contract),
        "channels": printed_notices.CHANNELS,
        "directions": printed_notices.DIRECTIONS,
        "error": None,
        **extra,
    }


async def printing_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.STAFF_VIEW, public_id)
        return ctx.render("staff_printing.html", await _context(ctx, contract))


async def confirm_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    delivery_id = public_id_param(request, "delivery_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.NOTICES_CONFIRM, public_id)
        try:
            delivery = await printed_notices.delivery_of(ctx.session, delivery_id)
            if delivery.contract_id != contract.id:
                raise error_page(request, 404, "対象が見つかりません。")
            counted = str(form.get("quantity", "")).strip()
            await printed_notices.confirm_delivery(
                ctx.session,
                delivery,
                confirmed_by=_staff_label(ctx),
                quantity=parse_count(counted) if counted else None,
            )
        except printed_notices.PrintedMatterError as refused:
            return ctx.render("staff_printing.html", await _context(ctx, contract, error=str(refused)), status=400)
        ctx.audit(Action.NOTICES_CONFIRM, object_type="notice_delivery", object_id=delivery_id)
        return see_other(f"/staff/contracts/{public_id}/printing")


async def paper_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.PAPER_HANDOVER, public_id)
        people = {person.public_id: person for person in await _designated_people(ctx, contract)}
        counterpart = people.get(str(form.get("person", "")))
        try:
            if counterpart is None:
                raise printed_notices.PrintedMatterError("相手方の取扱責任者・取扱者を選んでください。")
            try:
                direction = printed_notices.Direction(str(form.get("direction", "")))
            except ValueError:
                raise printed_notices.PrintedMatterError("受渡しの向きを選んでください。") from None
            await printed_notices.record_paper_handover(
                ctx.session,
                contract,
                printed_notices.PaperHandover(
                    direction=direction,
                    handed_on=parse_day(form.get("handed_on", "")),
                    staff=_staff_label(ctx),
                    counterpart=f"{counterpart.name}（{counterpart.code}）",
                    content=str(form.get("content", "")),
                    quantity=parse_count(form.get("quantity", "")),
                    channel=str(form.get("channel", "paper")),
                ),
            )
        except printed_notices.PrintedMatterError as refused:
            return ctx.render("staff_printing.html", await _context(ctx, contract, error=str(refused)), status=400)
        ctx.audit(Action.PAPER_HANDOVER, object_type="contract", object_id=public_id)
        return see_other(f"/staff/contracts/{public_id}/printing")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/contracts/{contract_id}/printing", printing_page)
    app.router.add_post("/staff/contracts/{contract_id}/notice-deliveries/{delivery_id}/confirm", confirm_post)
    app.router.add_post("/staff/contracts/{contract_id}/paper-handovers", paper_post)
