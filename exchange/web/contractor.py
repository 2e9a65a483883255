"""Contractor pages: my packages, download (Range/resume, counted), receipt, password pick-up, uploads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange import downloads, inbound
from exchange.access import Action, ContractScope, Decision, contract_scope, decide
from exchange.password_release import PasswordChannel, PasswordRefused, release
from exchange.web.context import Page, error_page, page
from ledger.models.base import new_public_id, utcnow
from ledger.models.contracts import Contract, Designation
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.models.portal import InboundFile
from ledger.register import Category, RegisterEntry, record


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
                    return ctx.render(
                        "inbound.html",
                        {
                            "contract": contract,
                            "kinds": inbound.KINDS,
                            "uploads": [],
                            "error": refused.reason_ja,
                            "limit_mb": ctx.deps.upload_limit // (1024 * 1024),
                        },
                        status=400,
                    )
            else:
                fields[part.name or ""] = (await part.text())[:200]
        if stored is None:
            raise error_page(request, 400, "ファイルが選択されていません。")
        kind = fields["kind"]
        person = await signed_in_person(ctx)
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/packages/{package_id}", package_page)
    app.router.add_get("/packages/{package_id}/download", download)
    app.router.add_post("/packages/{package_id}/acknowledge", acknowledge)
    app.router.add_get("/packages/{package_id}/password", password_page)
    app.router.add_post("/packages/{package_id}/password", password_post)
    app.router.add_get("/contracts/{contract_id}/inbound", inbound_page)
    app.router.add_post("/contracts/{contract_id}/inbound", inbound_post)
