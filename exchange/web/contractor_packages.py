"""Contractor pages for packages: my packages, download (Range/resume, counted), receipt, password pick-up."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import select

from exchange.blobs.store import BlobCorrupt, BlobError, BlobMissing
from exchange.delivery import package_blobs
from exchange.delivery import portal_downloads as downloads
from exchange.delivery.package_state import PackageRefused, Use, require
from exchange.identity import audit_log as audit
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Decision, decide
from exchange.passwords.release import PasswordChannel, PasswordRefused, release
from exchange.web.context import SESSIONS, Page, error_page, page
from exchange.web.contractor_certificates import my_requests
from exchange.web.guards import (
    authorised_package,
    my_contracts,
    public_id_param,
    see_other,
    signed_in_person,
)
from exchange.web.responses import BlobResponse, Span, byte_span, content_disposition
from ledger.models.base import utcnow
from ledger.models.packages import Package

log = logging.getLogger(__name__)


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
    context = {"rows": rows, "contracts": [c for c, _ in contracts], "certificate_requests": await my_requests(ctx)}
    return ctx.render("packages.html", context)


async def package_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request) as ctx:
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_VIEW, public_id)
        return ctx.render("package.html", {"package": package, "contract": contract})


async def serve_download(ctx: Page, public_id: str) -> web.StreamResponse:
    """Shared by the page and the API: authorise, check the blob, count (or check the resume), audit, then stream
    from the blob store."""
    request = ctx.request
    package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_DOWNLOAD, public_id)
    span = byte_span(request, package.size, package.sha256)
    try:
        require(package, Use.DOWNLOAD)  # first: an erased package's blob is gone, and its state is the reason
    except PackageRefused as refused:
        await ctx.deny(Action.PACKAGE_DOWNLOAD, _refusal(refused), object_type="package", object_id=public_id)
    # Checked before the count, and outside its transaction: hashing a large blob holds no row lock. The local
    # blob is opened once here; what was checked is what is sent, and it is closed whatever happens next.
    blob = await _checked_blob(ctx, package)
    try:
        return await _count_and_send(ctx, package, contract.public_id, span, blob)
    finally:
        await blob.close()


async def _count_and_send(
    ctx: Page, package: Package, contract_public_id: str, span: Span | None, blob: package_blobs.CheckedBlob
) -> web.StreamResponse:
    request, public_id = ctx.request, package.public_id
    try:
        started = await downloads.start(
            ctx.session,
            package,
            await signed_in_person(ctx),
            contract_public_id,
            account_id=ctx.principal.account_id,
            resume=span is not None and span[0] != 0,
            now=utcnow(),
        )
    except PackageRefused as refused:
        await ctx.deny(Action.PACKAGE_DOWNLOAD, _refusal(refused), object_type="package", object_id=public_id)
    ctx.audit(
        Action.PACKAGE_DOWNLOAD if started.counted else AuditAction.PACKAGE_DOWNLOAD_RESUME,
        object_type="package",
        object_id=public_id,
        detail={"download": started.number, "limit": package.download_limit, "range": request.headers.get("Range")},
    )
    response = BlobResponse(
        blob.store,
        blob.key,
        blob.size,
        span,
        etag=package.sha256,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition(package.zip_name, "package.zip"),
        },
        file=blob.file,
    )
    # Commit before streaming: the count and the audit stand even if the client disconnects mid-transfer.
    await ctx.session.commit()
    # Stream here rather than after return so the end of the transfer is known: only an interrupted transfer
    # may be resumed uncounted (portal_downloads.start), and that is decided from this audit row in any process.
    try:
        await response.send(request)
    except BaseException:
        await _transfer_ended(ctx, public_id, started.number, completed=False)
        raise
    # The body's length (the whole file, or the range asked for) was all sent: /metrics adds these up.
    await _transfer_ended(ctx, public_id, started.number, completed=True, sent=response.content_length)
    return response


async def _checked_blob(ctx: Page, package: Package) -> package_blobs.CheckedBlob:
    """The package's blob, once it is there and as recorded; otherwise the download is refused with the reason,
    and the refusal audited (``store.missing`` / ``store.corrupt``) in a commit of its own."""
    blobs = ctx.deps.blobs
    code = "store.unavailable"
    reason = "データファイルを読み出せません。区の担当者に連絡してください。"
    if blobs is not None:
        try:
            return await package_blobs.open_checked(blobs, package, ctx.deps.verified)
        except BlobMissing:
            code = "store.missing"
            reason = "データファイルが保管領域に見つかりません。区の担当者に連絡してください。"
        except BlobCorrupt:
            code = "store.corrupt"
            reason = (
                "データファイルが記録と一致しないため（改ざん・破損のおそれ）、お渡しできません。"
                "区の担当者に連絡してください。"
            )
        except BlobError:
            pass  # the store did not answer: the general reason
    public_id, detail = package.public_id, {"code": code, "key": package.blob_key}
    log.error("package %s refused for download: %s", public_id, code)
    await ctx.session.rollback()  # nothing of this request stands but the refusal (the row is expired by it)
    ctx.audit(Action.PACKAGE_DOWNLOAD, "failed", object_type="package", object_id=public_id, detail=detail)
    await ctx.session.commit()
    raise error_page(ctx.request, 503, reason)


async def _transfer_ended(ctx: Page, public_id: str, number: int, *, completed: bool, sent: int | None = None) -> None:
    """Audit the end of a transfer in its own transaction, shielded: a dropped client cancels the handler."""

    async def write() -> None:
        async with ctx.request.app[SESSIONS].begin() as session:
            audit.record(
                session,
                ctx.actor,
                ctx.ip,
                AuditAction.PACKAGE_DOWNLOAD_END,
                "allowed",
                object_type="package",
                object_id=public_id,
                detail={
                    "download": number,
                    "completed": completed,
                    "range": ctx.request.headers.get("Range"),
                    **({"bytes": sent} if sent is not None else {}),
                },
            )

    await asyncio.shield(write())


def _refusal(refused: PackageRefused) -> Decision:
    return Decision(False, refused.code, refused.reason_ja)


async def download(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        return await serve_download(ctx, public_id)


async def acknowledge_or_deny(ctx: Page, package: Package, contract_public_id: str, public_id: str) -> bool:
    """Shared by the page and the API: a refused receipt (state, designation, nothing retrieved) is audited."""
    try:
        return await downloads.acknowledge(
            ctx.session, package, await signed_in_person(ctx), contract_public_id, now=utcnow()
        )
    except PackageRefused as refused:
        await ctx.deny(Action.PACKAGE_ACKNOWLEDGE, _refusal(refused), object_type="package", object_id=public_id)


async def acknowledge(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_ACKNOWLEDGE, public_id)
        first = await acknowledge_or_deny(ctx, package, contract.public_id, public_id)
        ctx.audit(Action.PACKAGE_ACKNOWLEDGE, object_type="package", object_id=public_id, detail={"first": first})
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
                login_session=ctx.login_session,
            )
        except PasswordRefused as refused:
            ctx.audit(
                Action.PASSWORD_PICKUP,
                "denied",
                object_type="package",
                object_id=public_id,
                detail={"code": str(refused.decision.code)},
            )
            shown: dict[str, object] = {"package": package, "contract": contract, "refusal": refused.decision}
            return ctx.render("password.html", {**shown, "password": None}, status=403)
        ctx.audit(Action.PASSWORD_PICKUP, object_type="package", object_id=public_id)
        context = {"package": package, "contract": contract, "password": released.password, "refusal": None}
        return ctx.render("password.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/packages/{package_id}", package_page)
    app.router.add_get("/packages/{package_id}/download", download)
    app.router.add_post("/packages/{package_id}/acknowledge", acknowledge)
    app.router.add_get("/packages/{package_id}/password", password_page)
    app.router.add_post("/packages/{package_id}/password", password_post)
