"""Sub-contract approvals (C-06): record the ward's written approval, revoke it, and check a sub-contract's items.

The staff page and the CLI both go through here, so an approval or a revocation is the same change and the same
register line whichever way it is entered. Times are typed in Japan time and stored in UTC (``ledger.wareki``).
A revoked approval stops delivery at once: ``exchange.contract_facts`` passes ``approval_revoked_at`` to the
policy rules, which refuse data for the sub-contract from that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.contracts import Contract
from ledger.registers.handlers import Handler
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import format_jst


class ApprovalError(ValueError):
    """The approval cannot be recorded or revoked; the message is Japanese, for the member of staff."""


def items_outside_parent(items: Iterable[str], parent_items: Iterable[str]) -> list[str]:
    """The items of a sub-contract that its parent contract does not have, in their order (C-06: items ⊆ parent's)."""
    allowed = set(parent_items)
    return [item for item in items if item not in allowed]


def describe_outside(contract_name: str, parent_name: str, outside: list[str]) -> str:
    return (
        f"再委託契約「{contract_name}」の項目（{'、'.join(outside)}）は、元の契約「{parent_name}」の項目に"
        "含まれていません。再委託先に渡せるのは元の契約の項目の範囲内だけです。"
    )


async def _parent(session: AsyncSession, contract: Contract) -> Contract:
    if contract.parent_id is None:
        raise ApprovalError("再委託契約ではありません。")
    parent = await session.get(Contract, contract.parent_id)
    assert parent is not None  # enforced by the foreign key
    return parent


async def approve(
    session: AsyncSession,
    contract: Contract,
    *,
    approved_by: str,
    approved_at: datetime,
    reference: str,
    recorded_by: Handler | str,
) -> None:
    """Record the ward's approval (承諾) of ``contract``; ``approved_at`` is an aware moment (from ``parse_jst``)."""
    parent = await _parent(session, contract)
    outside = items_outside_parent(contract.allowed_items, parent.allowed_items)
    if outside:
        raise ApprovalError(describe_outside(contract.name, parent.name, outside))
    if not approved_by or not reference:
        raise ApprovalError("承諾者と文書番号を入力してください。")
    contract.approved_by, contract.approval_ref = approved_by, reference
    contract.approved_at, contract.approval_revoked_at = approved_at, None
    recorder = recorded_by.label if isinstance(recorded_by, Handler) else recorded_by
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.SUBCONTRACT_APPROVED,
            category=Category.ADMIN,
            content=f"再委託の承諾の記録（{reference}、承諾日時 {format_jst(approved_at)}）",
            contract_id=contract.public_id,
            handler_from=approved_by,
            handler_to=contract.name,
            details={"approved_at": approved_at, "ref": reference, "recorded_by": recorder},
        ),
    )


async def revoke(session: AsyncSession, contract: Contract, *, by: Handler | str, reason: str, at: datetime) -> None:
    """Revoke the approval of ``contract`` from ``at``: no data flows to the sub-contractor after it."""
    await _parent(session, contract)
    if contract.approved_at is None:
        raise ApprovalError("この再委託契約には承諾の記録がありません。")
    if contract.approval_revoked_at is not None:
        raise ApprovalError(f"この承諾は取り消し済みです（{format_jst(contract.approval_revoked_at)}）。")
    if not reason:
        raise ApprovalError("取消しの理由を入力してください。")
    contract.approval_revoked_at = at
    who = by.label if isinstance(by, Handler) else by
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.SUBCONTRACT_REVOKED,
            category=Category.ADMIN,
            content=f"再委託の承諾の取消し（{contract.approval_ref}）：{reason}",
            contract_id=contract.public_id,
            handler_from=who,
            handler_to=contract.name,
            details={
                "revoked_at": at,
                "ref": contract.approval_ref,
                "reason": reason,
                "revoked_by": by.details() if isinstance(by, Handler) else {"name": by},
            },
        ),
    )
