"""What every portal page that acts on a package or a contract does first: find it, authorise, refuse.

Shared by the contractor, staff and API handlers so that one decision path (``exchange.identity.authorisation``)
answers every request, and refusals are audited the same way everywhere.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.identity.authorisation import Action, ContractScope, Decision, contract_scope, decide
from exchange.web.context import Page, error_page
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Designation
from ledger.models.packages import Package
from ledger.models.parties import Person


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
    """Load a package and apply the policy for ``action`` (which includes the package's own state: see
    ``exchange.delivery.package_state``); refusals are audited and answered 404/403."""
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
