"""Compliance officer's read-only views: packages and password releases (the access log: ``compliance_audit``)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from exchange.identity.authorisation import Action, decide
from exchange.web.context import Page, page
from ledger.models.contracts import Contract
from ledger.models.packages import Package, PasswordRelease
from ledger.models.parties import Person

LIMIT = 500


async def _allowed(ctx: Page) -> None:
    decision = decide(ctx.principal, Action.COMPLIANCE_VIEW)
    if not decision.allowed:
        await ctx.deny(Action.COMPLIANCE_VIEW, decision)


async def packages(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        rows = (
            await ctx.session.execute(
                select(Package, Contract)
                .join(Contract, Package.contract_id == Contract.id)
                .order_by(Package.created_at.desc())
                .limit(LIMIT)
            )
        ).all()
        return ctx.render("compliance_packages.html", {"rows": rows})


async def releases(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        rows = (
            await ctx.session.execute(
                select(PasswordRelease, Package, Person)
                .join(Package, PasswordRelease.package_id == Package.id)
                .outerjoin(Person, PasswordRelease.person_id == Person.id)
                .order_by(PasswordRelease.decided_at.desc())
                .limit(LIMIT)
            )
        ).all()
        return ctx.render("compliance_releases.html", {"rows": rows})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/compliance", packages)
    app.router.add_get("/compliance/releases", releases)
