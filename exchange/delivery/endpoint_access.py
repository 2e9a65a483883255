"""Keeps who may reach a contract's folder at each endpoint equal to who is designated on it (C-05, C-10).

Called after a delivery and whenever a designation changes or a contract ends: designated (not revoked)
managers and handlers get access, everyone undesignated loses it. Connectors make both calls idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Connector, Grantee
from ledger.models import Contract, Designation, Person, RouteTarget


async def _grantees(session: AsyncSession, contract: Contract) -> tuple[list[Grantee], list[Grantee]]:
    rows = (
        await session.execute(
            select(Designation, Person)
            .join(Person, Designation.person_id == Person.id)
            .where(Designation.contract_id == contract.id)
        )
    ).all()
    current: list[Grantee] = []
    former: list[Grantee] = []
    for designation, person in rows:
        if not person.email:
            continue
        grantee = Grantee(person_id=person.public_id, login=person.email)
        ended = designation.revoked_at is not None
        (former if ended else current).append(grantee)
    return current, former


async def sync_access(
    session: AsyncSession, connectors: Mapping[str, Connector], contract: Contract, *, contract_ended: bool = False
) -> None:
    """Grant the designated people viewer access to the contract's folder on every endpoint it uses."""
    current, former = await _grantees(session, contract)
    names = set(
        (await session.execute(select(RouteTarget.connector).where(RouteTarget.contract_id == contract.id))).scalars()
    ) | set(
        name
        for name in (
            await session.execute(select(RouteTarget.fallback_connector).where(RouteTarget.contract_id == contract.id))
        ).scalars()
        if name
    )
    for name in sorted(names):
        connector = connectors.get(name)
        if connector is None:
            continue
        if contract_ended:
            await connector.revoke(contract.code, current + former)
            continue
        if former:
            await connector.revoke(contract.code, former)
        if current:
            await connector.grant(contract.code, current, "viewer")
