"""Ward staff's review of contractors' deletion certificates (C-04): every request of the section with its id, each
submitted certificate's Appendix G facts, and a form to accept it (受理) or return it (差戻し) with a reason.

The decision is ``exchange.retention.certificate_review.decide``, authorised as ``Action.CERTIFICATE_REVIEW`` on the
certificate's contract; it is an audit event and a register line naming the signed-in member of staff.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.identity.acting import display_name
from exchange.identity.authorisation import Action, decide
from exchange.retention import certificate_review
from exchange.web.context import error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Program
from ledger.models.parties import PersonRole
from ledger.models.retention import CertificateRequest, ContractorCertificate
from ledger.reports.deletion import METHODS_JA, REVIEWS_JA

LIMIT = 200


async def certificates_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        decision = decide(ctx.principal, Action.STAFF_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.STAFF_VIEW, decision)
        query = (
            select(CertificateRequest)
            .join(Contract, CertificateRequest.contract_id == Contract.id)
            .join(Program, Contract.program_id == Program.id)
            .options(
                selectinload(CertificateRequest.contract),
                selectinload(CertificateRequest.party),
                selectinload(CertificateRequest.submissions).selectinload(ContractorCertificate.packages),
            )
            .order_by(CertificateRequest.requested_at.desc(), CertificateRequest.id.desc())
            .limit(LIMIT)
        )
        if ctx.principal.role is PersonRole.STAFF:
            query = query.where(Program.section == ctx.principal.section)
        requests = (await ctx.session.scalars(query)).all()
        return ctx.render(
            "staff_certificates.html",
            {
                "requests": requests,
                "methods": METHODS_JA,
                "reviews": REVIEWS_JA,
            },
        )


async def review_post(request: web.Request) -> web.StreamResponse:
    """Accept or return one certificate; a refusal (already decided, no reason) comes back as the page's message."""
    public_id = public_id_param(request, "certificate_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        try:
            certificate = await certificate_review.find_certificate(ctx.session, public_id)
        except certificate_review.ReviewRefused as refused:
            raise error_page(request, 404, str(refused)) from None
        await authorised_contract(ctx, Action.CERTIFICATE_REVIEW, certificate.request.contract.public_id)
        accept = {"accept": True, "return": False}.get(str(form.get("decision", "")))
        if accept is None:
            raise error_page(request, 400, "受理か差戻しかを選んでください。")
        comment = str(form.get("comment", "")).strip()[:1000]
        try:
            await certificate_review.decide(
                ctx.session, certificate, accept=accept, by=display_name(ctx.principal), comment=comment, now=utcnow()
            )
        except certificate_review.ReviewRefused as refused:
            await ctx.commit_alone(
                Action.CERTIFICATE_REVIEW,
                object_type="contractor_certificate",
                object_id=public_id,
                detail={"reason": str(refused)},
            )
            raise error_page(request, 400, str(refused)) from None
        ctx.audit(
            Action.CERTIFICATE_REVIEW,
            object_type="contractor_certificate",
            object_id=public_id,
            detail={"decision": "accepted" if accept else "returned", "comment": comment},
        )
        return see_other("/staff/certificates")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/certificates", certificates_page)
    app.router.add_post("/staff/certificates/{certificate_id}/review", review_post)
