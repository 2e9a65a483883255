"""The access-log findings of a fiscal year and their review (C-11), in the portal.

The compliance officer reads the findings (names, not ids) and records the review as the signed-in account, with a
comment: ``access_log_analysis.review`` writes the register line, this page the audit event. Other readers of the
compliance pages (the admin) see the findings and past reviews but get no form: ``Action.ACCESS_REVIEW``.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import aliased

from exchange.identity.authorisation import Action, decide
from exchange.oversight import access_log_analysis as access_analysis
from exchange.web.compliance import _allowed
from exchange.web.context import error_page, page
from exchange.web.guards import see_other
from ledger.models.base import utcnow
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.parties import Account, Person
from ledger.reports.model import fiscal_year_label
from ledger.wareki import fiscal_year, jst_date

LIMIT = 1000


def _year(text: str) -> int:
    if not text:
        return fiscal_year(jst_date(utcnow()))
    if not text.isdigit() or not 2000 <= int(text) <= 9999:
        raise ValueError(f"年度は西暦の4桁で入力してください（{text}）。")
    return int(text)


async def findings_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        try:
            year = _year(request.query.get("fy", "").strip())
        except ValueError as refused:
            raise error_page(request, 400, str(refused)) from None
        person = aliased(Person)
        findings = (
            await ctx.session.execute(
                select(AccessFinding, person.name, AccessReview)
                .outerjoin(person, AccessFinding.person_id == person.id)
                .outerjoin(AccessReview, AccessFinding.review_id == AccessReview.id)
                .where(AccessFinding.fiscal_year == year)
                .order_by(AccessFinding.at.desc(), AccessFinding.id.desc())
                .limit(LIMIT)
            )
        ).all()
        # Who reviewed, from the account and person rows the review names: a review recorded before reviews were tied
        # to an account has neither, and shows the free-text name it was given then.
        reviewer, login = aliased(Person), aliased(Account)
        reviews = (
            await ctx.session.execute(
                select(AccessReview, reviewer.name, login.login)
                .outerjoin(reviewer, AccessReview.reviewer_person_id == reviewer.id)
                .outerjoin(login, AccessReview.reviewer_account_id == login.id)
                .where(AccessReview.fiscal_year == year)
                .order_by(AccessReview.reviewed_at.desc())
            )
        ).all()
        context = {
            "year": year,
            "year_label": fiscal_year_label(year),
            "findings": findings,
            "pending": sum(1 for _finding, _name, review in findings if review is None),
            "reviews": reviews,
            "can_review": decide(ctx.principal, Action.ACCESS_REVIEW).allowed,
        }
        return ctx.render("compliance_findings.html", context)


async def review_post(request: web.Request) -> web.StreamResponse:
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        decision = decide(ctx.principal, Action.ACCESS_REVIEW)
        if not decision.allowed:
            await ctx.deny(Action.ACCESS_REVIEW, decision)
        comment = str(form.get("comment", "")).strip()[:2000]
        try:
            year = _year(str(form.get("fy", "")).strip())
            row = await access_analysis.review(ctx.session, year, reviewer=ctx.principal, comment=comment, now=utcnow())
        except ValueError as refused:
            await ctx.commit_alone(Action.ACCESS_REVIEW, object_type="access_review", detail={"reason": str(refused)})
            raise error_page(request, 400, str(refused)) from None
        ctx.audit(
            Action.ACCESS_REVIEW,
            object_type="access_review",
            object_id=str(row.id),
            detail={"fiscal_year": year, "findings": row.findings_reviewed, "comment": comment},
        )
        return see_other(f"/compliance/findings?fy={year}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/compliance/findings", findings_page)
    app.router.add_post("/compliance/findings/review", review_post)
