"""Contractor pages: my packages, download (Range/resume, counted), receipt, password pick-up, uploads (virus
checked like intake), and the deletion certificate (消去証明書, C-04)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.delivery import portal_downloads as downloads
from exchange.identity.authorisation import Action, ContractScope, Decision, contract_scope, decide
from exchange.inbound import uploads as inbound
from exchange.passwords.release import PasswordChannel, PasswordRefused, release
from exchange.retention import contractor_certificates as contractor_certs
from exchange.web.context import Page, error_page, page
from ledger.models.base import new_public_id, utcnow
from ledger.models.contracts import Contract, Designation
from ledger.models.inbound import InboundFile
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.models.retention import CertificateRequest, ErasureMethod
from ledger.registers.handover import Category, RegisterEntry, record

# The register line that revokes a package (written by the staff pages); its presence stops the recipients.
REVOKED_KIND = "package.revoked"
# Revocation stops what hands data or its password over; the package page stays visible.
STOPPED_BY_REVOCATION = frozenset({Action.PACKAGE_DOWNLOAD, Action.PASSWORD_PICKUP})
METHODS_JA = {
    ErasureMethod.CLEAR: "消去（Clear）",
    ErasureMethod.PURGE: "除去（Purge）",
    ErasureMethod.DESTROY: "破壊（Destroy）",
}


def see_other(location: str) -> web.Response:
    """A redirect that is returned, not raised, so the request's transaction commits."""
    return web.Response(status=303, headers={"Location": location})


def public_id_param(request: web.Request, key: str) -> str:
    value = request.match_info[key]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise error_page(request, 404, "対象が見つかりません。") from None


async def _hidden(ctx: Page, action: Action, object_type: str, object_id: str) -> None:
    await ctx.deny(
        action, Decision(False, "object.unknown", "", hidden=True), object_type=object_type, object_id=object_id
    )


async def authorised_package(ctx: Page, action: Action, public_id: str) -> tuple[Package, Contract, ContractScope]:
    """Load a package and apply the policy for ``action``; refusals are audited and answered 404/403."""
    package = (await ctx.session.execute(select(Package).where(Package.public_id == public_id))).scalar_one_or_none()
    if package is None:
        await _hidden(ctx, action, "package", public_id)
        raise AssertionError("unreachable")
    contract = await ctx.session.get(Contract, package.contract_id)
    assert contract is not None
    scope = await contract_scope(ctx.session, contract, utcnow())
    decision = decide(ctx.principal, action, scope, package)
    if decision.allowed and action in STOPPED_BY_REVOCATION and package.revoked_at is not None:
        decision = Decision(
            False, "package.revoked", "区がこのデータの提供を取り消しました。区の担当者に連絡してください。"
        )
    if not decision.allowed:
        await ctx.deny(action, decision, object_type="package", object_id=public_id)
    return package, contract, scope


async def authorised_contract(ctx: Page, action: Action, public_id: str) -> tuple[Contract, ContractScope]:
    contract = (await ctx.session.execute(select(Contract).where(Contract.public_id == public_id))).scalar_one_or_none()
    if contract is None:
        await _hidden(ctx, action, "contract", public_id)
        raise AssertionError("unreachable")
    scope = await contract_scope(ctx.session, contract, utcnow())
    decision = decide(ctx.principal, action, scope)
    if not decision.allowed:
        await ctx.deny(action, decision, object_type="contract", object_id=public_id)
    return contract, scope


async def signed_in_person(ctx: Page) -> Person:
    assert ctx.principal.person_id is not None
    person = await ctx.session.get(Person, ctx.principal.person_id)
    assert person is not None
    return person


async def my_contracts(ctx: Page) -> list[tuple[Contract, ContractScope]]:
    """Contracts the signed-in contractor person may act on now (designated, live)."""
    if ctx.principal.person_id is None:
        return []
    contracts = (
        await ctx.session.execute(
            select(Contract)
            .join(Designation, Designation.contract_id == Contract.id)
            .where(Designation.person_id == ctx.principal.person_id, Designation.revoked_at.is_(None))
            .options(selectinload(Contract.program), selectinload(Contract.party))
            .order_by(Contract.code)
        )
    ).scalars()
    now = utcnow()
    result = []
    for contract in contracts:
        scope = await contract_scope(ctx.session, contract, now)
        if decide(ctx.principal, Action.INBOUND_UPLOAD, scope).allowed:
            result.append((contract, scope))
    return result


async def contractor_home(ctx: Page) -> web.StreamResponse:
    rows = []
    contracts = await my_contracts(ctx)
    for contract, scope in contracts:
        packages = (
            await ctx.session.execute(
                select(Package)
                .where(Package.contract_id == contract.id, Package.delivered_at.is_not(None))
                .order_by(Package.delivered_at.desc())
            )
        ).scalars()
        rows += [(contract, p) for p in packages if decide(ctx.principal, Action.PACKAGE_VIEW, scope, p).allowed]
    return ctx.render("packages.html", {"rows": rows, "contracts": [c for c, _ in contracts]})


async def package_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request) as ctx:
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_VIEW, public_id)
        return ctx.render("package.html", {"package": package, "contract": contract})


def _content_disposition(name: str) -> str:
    fallback = "package.zip"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


async def serve_download(ctx: Page, public_id: str) -> web.StreamResponse:
    """Shared by the page and the API: authorise, count (or check the resume), audit, then stream from disk."""
    request = ctx.request
    package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_DOWNLOAD, public_id)
    try:
        start = request.http_range.start
    except ValueError:
        raise web.HTTPRequestRangeNotSatisfiable() from None
    resume = start is not None and start != 0
    path = Path(package.store_path)
    if not await asyncio.to_thread(path.is_file):
        ctx.audit(
            "package.download", "failed", object_type="package", object_id=public_id, detail={"code": "store.missing"}
        )
        raise error_page(request, 503, "データファイルを読み出せません。区の担当者に連絡してください。")
    try:
        started = await downloads.start(
            ctx.session,
            package,
            await signed_in_person(ctx),
            contract.public_id,
            account_id=ctx.principal.account_id,
            resume=resume,
            now=utcnow(),
        )
    except downloads.DownloadRefused as refused:
        await ctx.deny("package.download", _refusal(refused), object_type="package", object_id=public_id)
    ctx.audit(
        downloads.DOWNLOAD_ACTION if started.counted else "package.download.resume",
        object_type="package",
        object_id=public_id,
        detail={"download": started.number, "limit": package.download_limit, "range": request.headers.get("Range")},
    )
    # Commit before streaming: the count and the audit stand even if the client disconnects mid-transfer.
    await ctx.session.commit()
    return web.FileResponse(
        path,
        chunk_size=256 * 1024,
        headers={"Content-Type": "application/zip", "Content-Disposition": _content_disposition(package.zip_name)},
    )


def _refusal(refused: downloads.DownloadRefused) -> Decision:
    return Decision(False, refused.code, refused.reason_ja)


async def download(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        return await serve_download(ctx, public_id)


async def acknowledge(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_ACKNOWLEDGE, public_id)
        first = await downloads.acknowledge(
            ctx.session, package, await signed_in_person(ctx), contract.public_id, now=utcnow()
        )
        ctx.audit("package.acknowledge", object_type="package", object_id=public_id, detail={"first": first})
        return see_other(f"/packages/{public_id}")


async def password_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request) as ctx:
        package, contract, _scope = await authorised_package(ctx, Action.PASSWORD_PICKUP, public_id)
        return ctx.render(
            "password.html", {"package": package, "contract": contract, "password": None, "refusal": None}
        )


async def password_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        package, contract, _scope = await authorised_package(ctx, Action.PASSWORD_PICKUP, public_id)
        keyring = ctx.deps.keyring
        if keyring is None:
            raise error_page(request, 503, "パスワードの受取りは現在利用できません。区の担当者に連絡してください。")
        try:
            released = await release(
                ctx.session,
                package,
                await signed_in_person(ctx),
                PasswordChannel.PORTAL,
                keyring=keyring,
                connector_kinds=dict(ctx.deps.connector_kinds),
            )
        except PasswordRefused as refused:
            ctx.audit(
                "password.pickup",
                "denied",
                object_type="package",
                object_id=public_id,
                detail={"code": str(refused.decision.code)},
            )
            shown: dict[str, object] = {"package": package, "contract": contract, "refusal": refused.decision}
            return ctx.render("password.html", {**shown, "password": None}, status=403)
        ctx.audit("password.pickup", object_type="package", object_id=public_id)
        context = {"package": package, "contract": contract, "password": released.password, "refusal": None}
        return ctx.render("password.html", context)


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
                        "csrf.rejected", Decision(False, "csrf", "不正な要求です。画面を開き直してください。")
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
                        "inbound.upload",
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
        await record(
            ctx.session,
            RegisterEntry(
                kind="inbound.received",
                category=Category.RECEIVED,
                content=f"{inbound.KINDS[kind]}の提出（{stored.name}）",
                contract_id=contract.public_id,
                handler_from=person.name,
                handler_to="system",
                quantity={"files": 1, "bytes": stored.size},
                channel="portal",
                details={"upload": upload_id, "sha256": stored.sha256},
            ),
        )
        ctx.audit("inbound.upload", object_type="inbound_file", object_id=upload_id, detail={"kind": kind})
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
            "inbound.upload",
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
        "inbound.infected",
        "denied",
        object_type="inbound_file",
        object_id=upload_id,
        detail={"signature": found, "sha256": stored.sha256, "kind": kind},
    )
    await record(
        ctx.session,
        RegisterEntry(
            kind="inbound.refused",
            category=Category.REFUSED,
            content=f"{inbound.KINDS[kind]}の提出を拒否（{stored.name}、ウイルス検出: {found}）",
            contract_id=contract.public_id,
            handler_from=person.name,
            handler_to="system",
            quantity={"files": 1, "bytes": stored.size},
            channel="portal",
            details={"upload": upload_id, "sha256": stored.sha256, "signature": found},
        ),
    )
    message = (
        f"ウイルスが検出されたため、提出を受け付けませんでした（{found}）。"
        "ファイルは削除しました。情報システム担当に連絡してください。"
    )
    return _inbound_error(ctx, contract, message, 422)


async def _certificate_context(ctx: Page, contract: Contract) -> dict[str, Any]:
    request = await ctx.session.scalar(select(CertificateRequest).where(CertificateRequest.contract_id == contract.id))
    return {
        "contract": contract,
        "request": request,
        "packages": await contractor_certs.received(ctx.session, contract.id) if request is not None else [],
        "methods": METHODS_JA,
        "error": None,
        "coverage": None,
        "form": {},
    }


async def certificate_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.CERTIFICATE_SUBMIT, public_id)
        return ctx.render("certificate.html", await _certificate_context(ctx, contract))


def _submission(form: MultiDictProxy[Any], submitted_by: str) -> contractor_certs.Submission:
    """The posted form as a submission; SubmissionRefused names what is missing."""
    try:
        method = ErasureMethod(str(form.get("method", "")))
    except ValueError:
        raise contractor_certs.SubmissionRefused("消去方法を選んでください。") from None
    try:
        erased_on = date.fromisoformat(str(form.get("erased_on", "")))
    except ValueError:
        raise contractor_certs.SubmissionRefused("消去日を入力してください。") from None
    text = {key: str(form.get(key, "")).strip()[:200] for key in ("media", "operator", "verifier")}
    missing = [
        label for key, label in (("media", "媒体"), ("operator", "作業者"), ("verifier", "確認者")) if not text[key]
    ]
    if missing:
        raise contractor_certs.SubmissionRefused(f"{'・'.join(missing)}を入力してください。")
    return contractor_certs.Submission(
        package_ids=[str(value) for value in form.getall("package", [])],
        method=method,
        erased_on=erased_on,
        media=text["media"],
        operator=text["operator"],
        verifier=text["verifier"],
        submitted_by=submitted_by,
    )


async def certificate_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        form = await request.post()  # parsed once and cached: the CSRF check above read the same form
        contract, _scope = await authorised_contract(ctx, Action.CERTIFICATE_SUBMIT, public_id)
        context = await _certificate_context(ctx, contract)
        if context["request"] is None:
            raise error_page(request, 404, "消去証明書の提出依頼はありません。")
        person = await signed_in_person(ctx)
        try:
            coverage = await contractor_certs.submit(
                ctx.session, context["request"].public_id, _submission(form, person.name), utcnow()
            )
        except contractor_certs.SubmissionRefused as refused:
            ctx.audit(
                "certificate.submit",
                "failed",
                object_type="contract",
                object_id=public_id,
                detail={"reason": str(refused)},
            )
            return ctx.render("certificate.html", {**context, "error": str(refused), "form": form}, status=400)
        ctx.audit(
            "certificate.submit",
            object_type="contract",
            object_id=public_id,
            detail={"packages": len(form.getall("package", [])), "complete": coverage.complete},
        )
        return ctx.render("certificate.html", {**context, "coverage": coverage})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/packages/{package_id}", package_page)
    app.router.add_get("/packages/{package_id}/download", download)
    app.router.add_post("/packages/{package_id}/acknowledge", acknowledge)
    app.router.add_get("/packages/{package_id}/password", password_page)
    app.router.add_post("/packages/{package_id}/password", password_post)
    app.router.add_get("/contracts/{contract_id}/inbound", inbound_page)
    app.router.add_post("/contracts/{contract_id}/inbound", inbound_post)
    app.router.add_get("/contracts/{contract_id}/certificate", certificate_page)
    app.router.add_post("/contracts/{contract_id}/certificate", certificate_post)
