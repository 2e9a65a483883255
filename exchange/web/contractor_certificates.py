"""The contractor's deletion certificate form (消去証明書, C-04): which packages it covers, how they were erased."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.identity.authorisation import Action
from exchange.retention import contractor_certificates as contractor_certs
from exchange.web.context import Page, error_page, page
from exchange.web.guards import (
    authorised_contract,
    public_id_param,
    signed_in_person,
)
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Designation
from ledger.models.retention import CertificateRequest, CertificateReview, ErasureMethod
from ledger.reports.deletion import METHODS_JA, REVIEWS_JA

# The form's free-text facts (NIST SP 800-88 Rev. 1 App. G); the serial is optional, the rest are required.
TEXT_FIELDS = (
    "media",
    "media_type",
    "media_serial",
    "method_detail",
    "tool",
    "verification_method",
    "verification_result",
    "operator",
    "verifier",
)


async def _certificate_context(ctx: Page, contract: Contract) -> dict[str, Any]:
    request = await ctx.session.scalar(
        select(CertificateRequest)
        .where(CertificateRequest.contract_id == contract.id)
        .options(selectinload(CertificateRequest.submissions))
        .execution_options(populate_existing=True)  # after a submission, show it in the list below the form
    )
    return {
        "contract": contract,
        "request": request,
        "submissions": sorted(request.submissions, key=lambda c: c.id) if request is not None else [],
        "packages": await contractor_certs.received(ctx.session, contract.id) if request is not None else [],
        "methods": METHODS_JA,
        "reviews": REVIEWS_JA,
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
    text = {key: str(form.get(key, "")).strip()[:200] for key in TEXT_FIELDS}
    return contractor_certs.Submission(
        package_ids=[str(value) for value in form.getall("package", [])],
        method=method,
        erased_on=erased_on,
        submitted_by=submitted_by,
        **text,
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
                Action.CERTIFICATE_SUBMIT,
                "failed",
                object_type="contract",
                object_id=public_id,
                detail={"reason": str(refused)},
            )
            return ctx.render("certificate.html", {**context, "error": str(refused), "form": form}, status=400)
        ctx.audit(
            Action.CERTIFICATE_SUBMIT,
            object_type="contract",
            object_id=public_id,
            detail={"packages": len(form.getall("package", [])), "complete": coverage.complete},
        )
        return ctx.render("certificate.html", {**await _certificate_context(ctx, contract), "coverage": coverage})


async def my_requests(ctx: Page) -> list[tuple[CertificateRequest, bool]]:
    """The signed-in person's certificate requests, each with whether a certificate was returned and not yet
    replaced. Listed whether or not the contract is still live: certificates are owed after a contract ends, when
    the contract no longer appears among the contracts the person may act on."""
    if ctx.principal.person_id is None or not ctx.principal.is_contractor:
        return []
    requests = (
        await ctx.session.scalars(
            select(CertificateRequest)
            .join(Designation, Designation.contract_id == CertificateRequest.contract_id)
            .where(
                Designation.person_id == ctx.principal.person_id,
                Designation.revoked_at.is_(None),
                CertificateRequest.party_id == ctx.principal.party_id,
            )
            .options(selectinload(CertificateRequest.contract), selectinload(CertificateRequest.submissions))
            .order_by(CertificateRequest.due_at)
        )
    ).all()
    return [
        (r, r.completed_at is None and any(s.review is CertificateReview.RETURNED for s in r.submissions))
        for r in requests
    ]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/contracts/{contract_id}/certificate", certificate_page)
    app.router.add_post("/contracts/{contract_id}/certificate", certificate_post)
