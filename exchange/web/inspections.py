"""Inspections in the portal (C-19): ward staff record the result of a contract's yearly inspection with its report
file, and download the fiscal year's inspection report; a contractor records its own inspection of its
sub-contractor (乙→丙) from its contract's page.

A recorded result settles the inspection reminder (``exchange.oversight.inspections.remind`` reminds only of rows
without one). The report file is sealed at rest (``exchange.oversight.attachments``). Every result is a register
line naming the person and an audit event.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.blobs.store import BlobError
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Decision, decide
from exchange.keys.sealing import UnsealError
from exchange.oversight import attachments, inspections
from exchange.web.context import Page, error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other, signed_in_person
from exchange.web.responses import content_disposition
from exchange.web.staff import _staff_name
from ledger import reports
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Program
from ledger.models.oversight import Inspection
from ledger.models.parties import PersonRole
from ledger.reports import inspections as inspection_report
from ledger.wareki import fiscal_year, jst_date

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
CSRF_REFUSED = Decision(False, "csrf", "不正な要求です。画面を開き直してから操作してください。")


async def _form_with_file(ctx: Page) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    """The multipart form: text fields first (the CSRF token is checked before any file byte is read), then an
    optional ``attachment`` read into memory up to the attachment limit."""
    request = ctx.request
    if not request.content_type.startswith("multipart/"):
        raise error_page(request, 400, "フォームから送信してください。")
    reader = await request.multipart()
    fields: dict[str, str] = {}
    file: tuple[str, bytes] | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise error_page(request, 400, "不正な要求です。")
        if part.name != "attachment":
            fields[part.name or ""] = (await part.text())[:4000]
            continue
        if fields.get("csrf_token") != ctx.csrf_token:
            await ctx.deny(
                AuditAction.CSRF_REJECTED, Decision(False, "csrf", "不正な要求です。画面を開き直してください。")
            )
        data = bytearray()
        while chunk := await part.read_chunk(256 * 1024):
            data += chunk
            if len(data) > attachments.MAX_BYTES:
                raise error_page(request, 413, f"添付ファイルは{attachments.MAX_BYTES // (1024 * 1024)}MBまでです。")
        if part.filename:
            file = (unquote(part.filename), bytes(data))
    if fields.get("csrf_token") != ctx.csrf_token:
        await ctx.deny(AuditAction.CSRF_REJECTED, CSRF_REFUSED)
    return fields, file


async def _record(ctx: Page, row: Inspection, recorded_by: str, party_id: int | None) -> None:
    """Parse, seal the attachment, record; a refusal is a 400 page with the reason (and a failed audit event)."""
    fields, file = await _form_with_file(ctx)
    try:
        try:
            performed_on = date.fromisoformat(fields.get("performed_on", ""))
        except ValueError:
            raise ValueError("実施日を入力してください。") from None
        sealed = None
        if file is not None:
            keyring, blobs = ctx.deps.keyring, ctx.deps.blobs
            if keyring is None or blobs is None:
                raise ValueError("添付ファイルは現在受け付けられません。")
            sealed = await attachments.seal_attachment(
                keyring, blobs, row.public_id, file[0], file[1], ctx.deps.scanner
            )
        form = inspections.InspectionResult(
            performed_on,
            fields.get("inspector", "")[:200],
            fields.get("result", ""),
            fields.get("findings", ""),
            recorded_by,
            party_id,
        )
        await inspections.record_result(ctx.session, row, form, now=utcnow(), attachment=sealed)
    except ValueError as exc:  # AttachmentRefused is one
        await ctx.commit_alone(
            Action.INSPECTION_RECORD, object_type="inspection", object_id=row.public_id, detail={"error": str(exc)}
        )
        raise error_page(ctx.request, 400, str(exc)) from None
    ctx.audit(
        Action.INSPECTION_RECORD,
        object_type="inspection",
        object_id=row.public_id,
        detail={"result": form.result, "attachment": sealed.sha256 if sealed else None},
    )


async def _inspection(ctx: Page, public_id: str) -> Inspection:
    row = await ctx.session.scalar(
        select(Inspection).where(Inspection.public_id == public_id).options(selectinload(Inspection.contract))
    )
    if row is None:
        raise error_page(ctx.request, 404, "対象が見つかりません。")
    return row


def _year(request: web.Request) -> int:
    text = request.query.get("fy", "")
    current = fiscal_year(jst_date(utcnow()))
    return int(text) if text.isdigit() and 2000 <= int(text) <= 9999 else current


async def staff_list(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        decision = decide(ctx.principal, Action.STAFF_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.STAFF_VIEW, decision)
        year = _year(request)
        if year == fiscal_year(jst_date(utcnow())):
            await inspections.ensure_inspections(ctx.session, jst_date(utcnow()))
        query = (
            select(Inspection)
            .join(Contract, Inspection.contract_id == Contract.id)
            .join(Program, Contract.program_id == Program.id)
            .where(Inspection.fiscal_year == year)
            .options(selectinload(Inspection.contract).selectinload(Contract.party))
            .order_by(Inspection.due_on, Contract.code)
        )
        if ctx.principal.role is PersonRole.STAFF:
            query = query.where(Program.section == ctx.principal.section)
        rows = (await ctx.session.scalars(query)).all()
        context: dict[str, Any] = {"rows": rows, "year": year, "results": inspections.RESULTS}
        return ctx.render("staff_inspections.html", context)


async def staff_record(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "inspection_id")
    async with page(request, view=False) as ctx:
        row = await _inspection(ctx, public_id)
        await authorised_contract(ctx, Action.INSPECTION_RECORD, row.contract.public_id)
        await _record(ctx, row, _staff_name(ctx), None)
        return see_other(f"/staff/inspections?fy={row.fiscal_year}")


async def attachment_download(request: web.Request) -> web.StreamResponse:
    """The sealed report file, for ward staff of the contract's section, or the contractor that recorded it."""
    public_id = public_id_param(request, "inspection_id")
    async with page(request, view=False) as ctx:
        row = await _inspection(ctx, public_id)
        if ctx.principal.is_contractor:
            parent = row.contract.parent_id
            if parent is None or row.inspected_by_party_id != ctx.principal.party_id:
                raise error_page(request, 404, "対象が見つかりません。")
            parent_contract = await ctx.session.get(Contract, parent)
            assert parent_contract is not None
            await authorised_contract(ctx, Action.INSPECTION_RECORD, parent_contract.public_id)
        else:
            await authorised_contract(ctx, Action.STAFF_VIEW, row.contract.public_id)
        keyring, blobs = ctx.deps.keyring, ctx.deps.blobs
        if row.attachment_key is None or row.attachment_name is None or keyring is None or blobs is None:
            raise error_page(request, 404, "添付ファイルはありません。")
        try:
            data = await attachments.open_attachment(keyring, blobs, row.attachment_key, row.public_id)
        except (BlobError, UnsealError):
            raise error_page(
                request, 503, "添付ファイルを読み出せません。情報システム担当に連絡してください。"
            ) from None
        ctx.audit(
            AuditAction.PAGE_VIEW,
            object_type="inspection",
            object_id=public_id,
            detail={"path": request.path, "attachment": row.attachment_sha256},
        )
        await ctx.session.commit()
        name = row.attachment_name
    return web.Response(
        body=data,
        headers={"Content-Type": "application/octet-stream", "Content-Disposition": content_disposition(name, "file")},
    )


async def report_download(request: web.Request) -> web.StreamResponse:
    """The fiscal year's inspection report (every section's contracts: the report is the ward's, C-19)."""
    async with page(request, view=False) as ctx:
        decision = decide(ctx.principal, Action.STAFF_VIEW)
        if not decision.allowed:
            decision = decide(ctx.principal, Action.COMPLIANCE_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.STAFF_VIEW, decision)
        year, fmt = _year(request), request.query.get("format", "pdf")
        if fmt not in reports.FORMATS:
            raise error_page(request, 400, "形式は PDF・XLSX・CSV のいずれかを選んでください。")
        built = await inspection_report.build(ctx.session, year)
        data = await asyncio.to_thread(reports.render, built, fmt)
        ctx.audit(
            AuditAction.COMPLIANCE_REPORT_DOWNLOAD,
            object_type="report",
            object_id="inspections",
            detail={"fy": year, "format": fmt, "rows": len(built.sections[0].rows)},
        )
        await ctx.session.commit()
    name = f"{inspection_report.TITLE}_{year}年度.{fmt}"
    return web.Response(
        body=data,
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": content_disposition(name, f"inspections.{fmt}"),
        },
    )


async def contractor_list(request: web.Request) -> web.StreamResponse:
    """The contractor's sub-contracts under this contract, with this fiscal year's inspection of each."""
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INSPECTION_RECORD, public_id)
        year = fiscal_year(jst_date(utcnow()))
        subs = (
            await ctx.session.scalars(
                select(Contract)
                .where(Contract.parent_id == contract.id)
                .options(selectinload(Contract.party))
                .order_by(Contract.code)
            )
        ).all()
        rows = [(sub, await inspections.inspection_for(ctx.session, sub, year)) for sub in subs]
        context = {"contract": contract, "rows": rows, "year": year, "results": inspections.RESULTS}
        return ctx.render("contractor_inspections.html", context)


async def contractor_record(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    inspection_id = public_id_param(request, "inspection_id")
    async with page(request, view=False) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INSPECTION_RECORD, public_id)
        row = await _inspection(ctx, inspection_id)
        if row.contract.parent_id != contract.id:
            raise error_page(request, 404, "対象が見つかりません。")
        person = await signed_in_person(ctx)
        await _record(ctx, row, person.name, contract.party_id)
        return see_other(f"/contracts/{public_id}/inspections")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/inspections", staff_list)
    app.router.add_get("/staff/inspections/report", report_download)
    app.router.add_post("/staff/inspections/{inspection_id}", staff_record)
    app.router.add_get("/inspections/{inspection_id}/attachment", attachment_download)
    app.router.add_get("/contracts/{contract_id}/inspections", contractor_list)
    app.router.add_post("/contracts/{contract_id}/inspections/{inspection_id}", contractor_record)
