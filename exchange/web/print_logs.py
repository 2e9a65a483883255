"""The printer's side of C-17 and C-03 in the portal: a print log is checked as it arrives, the printer sees the
findings and gives its reasons, and records the deliveries of sealed notices to the ward.

An uploaded print log is read back from its sealed copy into memory (up to the parser's limit) and parsed from
there once it is scanned, so no plaintext copy is written. A log in the wrong shape is refused with what is
wrong, before it counts as submitted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from aiohttp import web

from exchange.identity.authorisation import Action
from exchange.oversight import print_logs, printed_notices
from exchange.web.context import Page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other, signed_in_person
from ledger.models.contracts import Contract
from ledger.models.parties import Person

PRINT_LOG_KIND = "print_log"  # the upload kind (exchange.inbound.uploads.KINDS) checked here
KIND_LABELS = {"duplicate": "重複印刷", "unmatched": "納品データ外", "pages": "枚数不一致"}


async def _read_capped(chunks: AsyncIterator[bytes]) -> bytes:
    """The whole upload, or ``PrintLogError`` when it is larger than a print log may be."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > print_logs.MAX_LOG_BYTES:
            raise print_logs.PrintLogError([print_logs.TOO_LARGE])
        parts.append(chunk)
    return b"".join(parts)


async def take_upload(
    ctx: Page,
    contract: Contract,
    person: Person,
    kind: str,
    file_name: str,
    chunks: AsyncIterator[bytes],
    upload_id: str,
) -> str | None:
    """Check an upload that was sealed and scanned: for a print log, parse and match it now (findings recorded in
    this request's transaction); returns the refusal to show when the log cannot be taken, else None."""
    if kind != PRINT_LOG_KIND:
        return None
    try:
        data = await _read_capped(chunks)
        result = await print_logs.ingest(
            ctx.session, contract, data, file_name=file_name, uploaded_by=person.name, channel="portal"
        )
    except print_logs.PrintLogError as refused:
        ctx.audit(
            Action.INBOUND_UPLOAD,
            "failed",
            object_type="inbound_file",
            object_id=upload_id,
            detail={"reason": "printlog.refused", "problems": refused.problems[:5]},
        )
        return "印刷ログを受け付けませんでした。" + "。".join(refused.problems) + "。修正して再度提出してください。"
    ctx.audit(
        Action.INBOUND_UPLOAD,
        object_type="print_log",
        object_id=result.print_log.public_id,
        detail={"upload": upload_id, "rows": len(result.print_log.rows), "findings": len(result.findings)},
    )
    return None


async def _context(ctx: Page, contract: Contract, **extra: Any) -> dict[str, Any]:
    findings = await print_logs.contract_findings(ctx.session, contract)
    return {
        "contract": contract,
        "findings": findings,
        "texts": {finding.id: print_logs.finding_text(finding) for finding in findings},
        "labels": KIND_LABELS,
        "deliveries": await printed_notices.deliveries(ctx.session, contract),
        "error": None,
        **extra,
    }


async def printing_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.PRINTLOG_REASON, public_id)
        return ctx.render("printing.html", await _context(ctx, contract))


async def reason_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    finding_id = public_id_param(request, "finding_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.PRINTLOG_REASON, public_id)
        person = await signed_in_person(ctx)
        try:
            finding = await print_logs.finding_of(ctx.session, contract, finding_id)
            await print_logs.give_reason(ctx.session, finding, str(form.get("reason", ""))[:1000], given_by=person.name)
        except print_logs.PrintLogError as refused:
            message = "。".join(refused.problems) + "。"
            return ctx.render("printing.html", await _context(ctx, contract, error=message), status=400)
        ctx.audit(Action.PRINTLOG_REASON, object_type="print_finding", object_id=finding_id)
        return see_other(f"/contracts/{contract.public_id}/printing")


def parse_day(value: object) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise printed_notices.PrintedMatterError("日付を入力してください。") from None


def parse_count(value: object) -> int:
    text = str(value).strip().replace(",", "")
    if not text.isdecimal():
        raise printed_notices.PrintedMatterError("数量は1以上の整数で入力してください。")
    return int(text)


async def delivery_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.NOTICES_DELIVER, public_id)
        person = await signed_in_person(ctx)
        try:
            delivery = await printed_notices.record_delivery(
                ctx.session,
                contract,
                delivered_on=parse_day(form.get("delivered_on", "")),
                quantity=parse_count(form.get("quantity", "")),
                delivered_by=str(form.get("delivered_by", "")),
                recorded_by=person.name,
                content=str(form.get("content", "")) or printed_notices.NOTICE_CONTENT,
            )
        except printed_notices.PrintedMatterError as refused:
            return ctx.render("printing.html", await _context(ctx, contract, error=str(refused)), status=400)
        ctx.audit(Action.NOTICES_DELIVER, object_type="notice_delivery", object_id=delivery.public_id)
        return see_other(f"/contracts/{contract.public_id}/printing")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/contracts/{contract_id}/printing", printing_page)
    app.router.add_post("/contracts/{contract_id}/print-findings/{finding_id}/reason", reason_post)
    app.router.add_post("/contracts/{contract_id}/notice-deliveries", delivery_post)
