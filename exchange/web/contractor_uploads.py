"""Contractor uploads through the portal (print logs, entered data), virus-scanned before they are kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Decision
from exchange.inbound import uploads as inbound
from exchange.web.context import Page, error_page, page
from exchange.web.guards import (
    authorised_contract,
    public_id_param,
    see_other,
    signed_in_person,
)
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile
from ledger.models.parties import Person
from ledger.registers.handover import record


async def inbound_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INBOUND_UPLOAD, public_id)
        uploads = (
            await ctx.session.execute(
                select(InboundFile).where(InboundFile.contract_id == contract.id).order_by(InboundFile.id.desc())
            )
        ).scalars()
        context = {
            "contract": contract,
            "kinds": inbound.KINDS,
            "uploads": list(uploads),
            "error": None,
            "limit_mb": ctx.deps.upload_limit // (1024 * 1024),
        }
        return ctx.render("inbound.html", context)


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(256 * 1024):
        yield chunk


async def inbound_post(request: web.Request) -> web.StreamResponse:
    """Multipart fields in order: csrf_token, kind, file (the template keeps that order).

    aiohttp hands over an RFC 5987 ``filename*`` still percent-encoded, hence the ``unquote``.
    """
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INBOUND_UPLOAD, public_id)
        data_dir = ctx.deps.data_dir
        if data_dir is None:
            raise error_page(request, 503, "提出の受付は現在利用できません。")
        if not request.content_type.startswith("multipart/"):
            raise error_page(request, 400, "ファイルを選択して送信してください。")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        stored = None
        upload_id = new_public_id()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise error_page(request, 400, "不正な要求です。")
            if part.name == "file":
                if fields.get("csrf_token") != ctx.csrf_token or fields.get("kind") not in inbound.KINDS:
                    await ctx.deny(
                        AuditAction.CSRF_REJECTED, Decision(False, "csrf", "不正な要求です。画面を開き直してください。")
                    )
                try:
                    stored = await inbound.store(
                        data_dir,
                        contract.public_id,
                        upload_id,
                        unquote(part.filename or ""),
                        _chunks(part),
                        limit=ctx.deps.upload_limit,
                    )
                except inbound.UploadRefused as refused:
                    ctx.audit(
                        Action.INBOUND_UPLOAD,
                        "failed",
                        object_type="contract",
                        object_id=public_id,
                        detail={"reason": refused.reason_ja},
                    )
                    return _inbound_error(ctx, contract, refused.reason_ja, 400)
            else:
                fields[part.name or ""] = (await part.text())[:200]
        if stored is None:
            raise error_page(request, 400, "ファイルが選択されていません。")
        kind = fields["kind"]
        person = await signed_in_person(ctx)
        refusal = await _scan_upload(ctx, contract, person, kind, upload_id, stored)
        if refusal is not None:
            return refusal
        ctx.session.add(
            InboundFile(
                public_id=upload_id,
                contract_id=contract.id,
                person_id=person.id,
                kind=kind,
                file_name=stored.name,
                stored_path=str(stored.path),
                size=stored.size,
                sha256=stored.sha256,
            )
        )
        await record(ctx.session, inbound.received_entry(contract.public_id, person.name, kind, upload_id, stored))
        ctx.audit(Action.INBOUND_UPLOAD, object_type="inbound_file", object_id=upload_id, detail={"kind": kind})
        return see_other(f"/contracts/{contract.public_id}/inbound")


def _inbound_error(ctx: Page, contract: Contract, message: str, status: int) -> web.Response:
    context = {
        "contract": contract,
        "kinds": inbound.KINDS,
        "uploads": [],
        "error": message,
        "limit_mb": ctx.deps.upload_limit // (1024 * 1024),
    }
    return ctx.render("inbound.html", context, status=status)


async def _scan_upload(
    ctx: Page, contract: Contract, person: Person, kind: str, upload_id: str, stored: inbound.Stored
) -> web.Response | None:
    """The intake checks' virus scan (C-12); the refusal page when the file is infected or cannot be checked.

    Fail closed: when the scanner is configured but down, the upload is refused, never accepted unchecked.
    """
    scanner = ctx.deps.scanner
    if scanner is None:
        return None
    try:
        found = await scanner.scan(stored.path)
    except OSError as exc:
        await asyncio.to_thread(stored.path.unlink, True)
        ctx.audit(
            Action.INBOUND_UPLOAD,
            "failed",
            object_type="inbound_file",
            object_id=upload_id,
            detail={"reason": "scanner.unavailable", "error": str(exc)},
        )
        message = "ウイルス検査ができないため、現在は提出を受け付けられません。時間をおいて再度提出してください。"
        return _inbound_error(ctx, contract, message, 503)
    if found is None:
        return None
    await asyncio.to_thread(stored.path.unlink, True)
    ctx.audit(
        AuditAction.INBOUND_INFECTED,
        "denied",
        object_type="inbound_file",
        object_id=upload_id,
        detail={"signature": found, "sha256": stored.sha256, "kind": kind},
    )
    await record(ctx.session, inbound.refused_entry(contract.public_id, person.name, kind, upload_id, stored, found))
    message = (
        f"ウイルスが検出されたため、提出を受け付けませんでした（{found}）。"
        "ファイルは削除しました。情報システム担当に連絡してください。"
    )
    return _inbound_error(ctx, contract, message, 422)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/contracts/{contract_id}/inbound", inbound_page)
    app.router.add_post("/contracts/{contract_id}/inbound", inbound_post)
