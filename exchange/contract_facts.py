"""Adapts database contracts to the plain facts the policy rules take (policies stay free of I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Contract, Program
from policies.rules import ConnectorFacts, ContractFacts, SubcontractApproval


async def contract_facts(
    session: AsyncSession, contract: Contract, connectors: Sequence[ConnectorFacts] = ()
) -> ContractFacts:
    parent = None
    if contract.parent_id is not None:
        parent_row = await session.get(Contract, contract.parent_id)
        assert parent_row is not None
        parent = await contract_facts(session, parent_row)
    approval = None
    if contract.approved_by and contract.approved_at and contract.approval_ref:
        approval = SubcontractApproval(
            approved_by=contract.approved_by,
            approved_at=contract.approved_at,
            document_ref=contract.approval_ref,
            revoked_at=contract.approval_revoked_at,
        )
    program = await session.get(Program, contract.program_id)
    assert program is not None
    return ContractFacts(
        public_id=contract.public_id,
        program_code=program.code,
        start=contract.starts_on,
        end=contract.ends_on,
        allowed_items=frozenset(contract.allowed_items),
        allowed_channels=frozenset(contract.channels),
        connectors=tuple(connectors),
        parent=parent,
        subcontract_approval=approval,
        password_delay=timedelta(hours=contract.password_delay_hours),
        name=contract.name,
    )
