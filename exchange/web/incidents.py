"""Incidents in the portal (C-18): ward staff open, view and close an incident, record the PPC filings (速報・確報),
give instructions and unfreeze a package with a reason; a contractor reports an incident on its contract and
answers the ward's instructions.

Opening freezes the packages in the request's transaction; only after that commit are they taken out of reach at
their endpoints (``incidents.remove_access``), which writes what it did for the report PDF. Every step is a
register line naming the signed-in person and an audit event.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.identity.authorisation import Action, decide
from exchange.oversight import incident_records, incidents
from exchange.web.context import SESSIONS, Page, error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other, signed_in_person
from exchange.web.responses import content_disposition
from exchange.web.staff import _staff_name
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Program
from ledger.models.oversight import Incident, IncidentPackage
from ledger.models.packages import Package
from ledger.models.parties import Party, PersonRole
from ledger.wareki import JstParseError, parse_jst

LIMIT = 200


async def _incident(ctx: Page, public_id: str) -> Incident:
    incident = await ctx.session.scalar(
        select(Incident)
        .where(Incident.public_id == public_id)
        .options(
            selectinload(Incident.packages).selectinload(IncidentPackage.package),
            selectinload(Incident.messages),
            selectinload(Incident.contract),
        )
    )
    if incident is None:
        raise error_page(ctx.request, 404, "対象が見つかりません。")
    return incident


async def _ward_may(ctx: Page, action: Action, incident: Incident | None = None) -> None:
    """Staff of the incident's contract's section (any section's staff for one without a contract), the admin."""
    if incident is not None and incident.contract is not None:
        await authorised_contract(ctx, action, incident.contract.public_id)
        return
    decision = decide(ctx.principal, action)
    if not decision.allowed:
        await ctx.deny(action, decision)


def _form_incident(
    form: MultiDictProxy[Any], reported_by: str, contract_code: str | None, party_id: int | None = None
) -> incidents.IncidentForm:
    try:
        discovered_at = parse_jst(str(form.get("discovered_at", "")))
    except JstParseError:
        raise ValueError("発覚日時を入力してください（日本時間）。") from None
    return incidents.IncidentForm(
        title=str(form.get("title", "")).strip()[:300],
        description=str(form.get("description", "")).strip()[:4000],
        reported_by=reported_by,
        discovered_at=discovered_at,
        package_ids=[str(value) for value in form.getall("package", [])],
        contract_code=contract_code,
        wrongful_purpose=form.get("wrongful_purpose") == "on",
        reporter_party_id=party_id,
    )


async def _open(ctx: Page, form: incidents.IncidentForm) -> Incident:
    """Freeze and commit, then take the packages out of reach at their endpoints (a second transaction)."""
    incident = await incidents.freeze(ctx.session, form, utcnow())
    ctx.audit(
        Action.INCIDENT_REPORT if form.reporter_party_id else Action.INCIDENT_MANAGE,
        object_type="incident",
        object_id=incident.public_id,
        detail={"op": "open", "packages": len(form.package_ids)},
    )
    await ctx.session.commit()
    await incidents.remove_access(ctx.request.app[SESSIONS], ctx.deps.connectors, incident.id)
    return incident


# --- ward staff --------------------------------------------------------------------------------------------------


async def staff_list(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _ward_may(ctx, Action.STAFF_VIEW)
        return ctx.render("staff_incidents.html", await _list_context(ctx, None))


async def _list_context(ctx: Page, error: str | None) -> dict[str, Any]:
    section = ctx.principal.section if ctx.principal.role is PersonRole.STAFF else None
    incidents_q = (
        select(Incident)
        .outerjoin(Contract, Incident.contract_id == Contract.id)
        .outerjoin(Program, Contract.program_id == Program.id)
        .options(selectinload(Incident.contract))
        .order_by(Incident.id.desc())
        .limit(LIMIT)
    )
    packages_q = (
        select(Package, Contract)
        .join(Contract, Package.contract_id == Contract.id)
        .join(Program, Contract.program_id == Program.id)
        .where(Package.delivered_at.is_not(None))
        .order_by(Package.created_at.desc())
        .limit(LIMIT)
    )
    contracts_q = select(Contract).join(Program, Contract.program_id == Program.id).order_by(Contract.code)
    if section is not None:
        # An incident without a contract concerns the whole ward: every section's staff see it.
        incidents_q = incidents_q.where((Program.section == section) | Incident.contract_id.is_(None))
        packages_q = packages_q.where(Program.section == section)
        contracts_q = contracts_q.where(Program.section == section)
    return {
        "incidents": (await ctx.session.scalars(incidents_q)).all(),
        "packages": (await ctx.session.execute(packages_q)).all(),
        "contracts": (await ctx.session.scalars(contracts_q)).all(),
        "error": error,
    }


async def staff_open(request: web.Request) -> web.StreamResponse:
    async with page(request, view=False) as ctx:
        await ctx.form()
        form = await request.post()  # parsed once and cached: the CSRF check above read the same form
        code = str(form.get("contract", "")).strip() or None
        if code is not None:
            contract = await ctx.session.scalar(select(Contract).where(Contract.code == code))
            if contract is None:
                raise error_page(request, 400, "契約を選んでください。")
            await authorised_contract(ctx, Action.INCIDENT_MANAGE, contract.public_id)
        else:
            await _ward_may(ctx, Action.INCIDENT_MANAGE)
        # Each package is authorised on its own contract: staff freeze only their own section's deliveries.
        chosen = [str(value) for value in form.getall("package", [])]
        owners = await ctx.session.scalars(
            select(Contract.public_id)
            .join(Package, Package.contract_id == Contract.id)
            .where(Package.public_id.in_(chosen))
        )
        for owner in set(owners):
            await authorised_contract(ctx, Action.INCIDENT_MANAGE, owner)
        try:
            incident = await _open(ctx, _form_incident(form, _staff_name(ctx), code))
        except ValueError as exc:
            await ctx.session.rollback()
            return ctx.render("staff_incidents.html", await _list_context(ctx, str(exc)), status=400)
        return see_other(f"/staff/incidents/{incident.public_id}")


async def staff_view(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "incident_id")
    async with page(request) as ctx:
        incident = await _incident(ctx, public_id)
        await _ward_may(ctx, Action.STAFF_VIEW, incident)
        context = {
            "incident": incident,
            "affected": incident_records.affected([row.package for row in incident.packages]),
            "kinds": incident_records.MESSAGE_KINDS,
        }
        return ctx.render("staff_incident.html", context)


async def _staff_change(request: web.Request, op: str) -> web.StreamResponse:
    public_id = public_id_param(request, "incident_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        incident = await _incident(ctx, public_id)
        await _ward_may(ctx, Action.INCIDENT_MANAGE, incident)
        by, now = _staff_name(ctx), utcnow()
        try:
            if op == "filing":
                which = str(form.get("which", ""))
                try:
                    at = parse_jst(str(form.get("at", "")))
                except JstParseError:
                    raise ValueError("提出日時を入力してください（日本時間）。") from None
                reference = str(form.get("reference", "")).strip()[:200]
                if not reference:
                    raise ValueError("受付番号または文書番号を入力してください。")
                await incidents.record_report(ctx.session, incident, which, at, by=by, reference=reference)
            elif op == "instruction":
                text = str(form.get("body", ""))[:4000]
                await incident_records.add_message(
                    ctx.session, incident, "instruction", text, author=by, party_id=None, now=now
                )
            elif op == "unfreeze":
                package_id, reason = str(form.get("package", "")), str(form.get("reason", ""))[:1000]
                await incident_records.unfreeze(ctx.session, incident, package_id, by=by, reason=reason, now=now)
            else:
                await incident_records.close(
                    ctx.session, incident, by=by, note=str(form.get("note", ""))[:4000], now=now
                )
        except ValueError as exc:
            await ctx.commit_alone(
                Action.INCIDENT_MANAGE,
                object_type="incident",
                object_id=public_id,
                detail={"op": op, "error": str(exc)},
            )
            raise error_page(request, 400, str(exc)) from None
        ctx.audit(Action.INCIDENT_MANAGE, object_type="incident", object_id=public_id, detail={"op": op})
        return see_other(f"/staff/incidents/{public_id}")


async def staff_filing(request: web.Request) -> web.StreamResponse:
    return await _staff_change(request, "filing")


async def staff_instruction(request: web.Request) -> web.StreamResponse:
    return await _staff_change(request, "instruction")


async def staff_unfreeze(request: web.Request) -> web.StreamResponse:
    return await _staff_change(request, "unfreeze")


async def staff_close(request: web.Request) -> web.StreamResponse:
    return await _staff_change(request, "close")


async def staff_pdf(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "incident_id")
    async with page(request, view=False) as ctx:
        incident = await _incident(ctx, public_id)
        await _ward_may(ctx, Action.STAFF_VIEW, incident)
        data = await incident_records.incident_pdf(ctx.session, incident)
        ctx.audit(Action.STAFF_VIEW, object_type="incident", object_id=public_id, detail={"file": "pdf"})
        await ctx.session.commit()
    return web.Response(
        body=data,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": content_disposition("漏えい等事案報告書.pdf", "incident.pdf"),
        },
    )


# --- contractors -------------------------------------------------------------------------------------------------


async def _contractor_context(ctx: Page, contract: Contract, error: str | None = None) -> dict[str, Any]:
    reported = (
        await ctx.session.scalars(
            select(Incident)
            .where(Incident.contract_id == contract.id)
            .options(selectinload(Incident.messages))
            .order_by(Incident.id.desc())
        )
    ).all()
    packages = (
        await ctx.session.scalars(
            select(Package)
            .where(Package.contract_id == contract.id, Package.delivered_at.is_not(None))
            .order_by(Package.created_at.desc())
            .limit(LIMIT)
        )
    ).all()
    return {
        "contract": contract,
        "incidents": reported,
        "packages": packages,
        "kinds": incident_records.MESSAGE_KINDS,
        "error": error,
    }


async def contractor_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INCIDENT_REPORT, public_id)
        return ctx.render("contractor_incidents.html", await _contractor_context(ctx, contract))


async def contractor_report(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        form = await request.post()
        contract, _scope = await authorised_contract(ctx, Action.INCIDENT_REPORT, public_id)
        person = await signed_in_person(ctx)
        party = await ctx.session.get(Party, contract.party_id)
        assert party is not None
        try:
            await _open(ctx, _form_incident(form, f"{person.name}（{party.name}）", contract.code, contract.party_id))
        except ValueError as exc:
            await ctx.session.rollback()
            context = await _contractor_context(ctx, contract, str(exc))
            return ctx.render("contractor_incidents.html", context, status=400)
        return see_other(f"/contracts/{public_id}/incidents")


async def contractor_answer(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    incident_id = public_id_param(request, "incident_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.INCIDENT_REPORT, public_id)
        incident = await _incident(ctx, incident_id)
        if incident.contract_id != contract.id:
            raise error_page(request, 404, "対象が見つかりません。")
        person = await signed_in_person(ctx)
        try:
            await incident_records.add_message(
                ctx.session,
                incident,
                "answer",
                str(form.get("body", ""))[:4000],
                author=person.name,
                party_id=contract.party_id,
                now=utcnow(),
            )
        except ValueError as exc:
            raise error_page(request, 400, str(exc)) from None
        ctx.audit(Action.INCIDENT_REPORT, object_type="incident", object_id=incident_id, detail={"op": "answer"})
        return see_other(f"/contracts/{public_id}/incidents")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/incidents", staff_list)
    app.router.add_post("/staff/incidents", staff_open)
    app.router.add_get("/staff/incidents/{incident_id}", staff_view)
    app.router.add_get("/staff/incidents/{incident_id}/report.pdf", staff_pdf)
    app.router.add_post("/staff/incidents/{incident_id}/filings", staff_filing)
    app.router.add_post("/staff/incidents/{incident_id}/instructions", staff_instruction)
    app.router.add_post("/staff/incidents/{incident_id}/unfreeze", staff_unfreeze)
    app.router.add_post("/staff/incidents/{incident_id}/close", staff_close)
    app.router.add_get("/contracts/{contract_id}/incidents", contractor_page)
    app.router.add_post("/contracts/{contract_id}/incidents", contractor_report)
    app.router.add_post("/contracts/{contract_id}/incidents/{incident_id}/answers", contractor_answer)
