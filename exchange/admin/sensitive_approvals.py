"""The ward's approvals for items in a forbidden category (C-07, 特記事項5): record them, and build the screening
policy the intake applies to one contract on one route.

The staff page, the CLI and the contract import all record through :func:`approve`, so an approval is the same
row and the same register line whichever way it is entered. An approval covers the items its document lists, on
the contract it names; it is never edited (a corrected approval is a new one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.contracts import Contract, Route
from ledger.models.sensitive import SensitiveApproval
from ledger.registers.handlers import Handler
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki
from policies.screening import (
    DEFAULT_CATEGORIES,
    HOW_TO_APPROVE,
    ScreeningApproval,
    ScreeningHit,
    ScreeningPolicy,
    describe_hits,
    find_hits,
)


class SensitiveApprovalError(ValueError):
    """The approval cannot be recorded; the message is Japanese, for the member of staff."""


def forbidden_items(items: Iterable[str]) -> tuple[ScreeningHit, ...]:
    """The items that reveal a forbidden category, whatever is approved."""
    return find_hits(items, ScreeningPolicy())


async def approvals_of(session: AsyncSession, contract: Contract) -> Sequence[SensitiveApproval]:
    rows = await session.execute(
        select(SensitiveApproval)
        .where(SensitiveApproval.contract_id == contract.id)
        .order_by(SensitiveApproval.recorded_at, SensitiveApproval.id)
    )
    return rows.scalars().all()


def _as_screening(row: SensitiveApproval) -> ScreeningApproval:
    return ScreeningApproval(row.document_ref, row.approver, row.approved_on, frozenset(row.items))


async def screening_approvals(session: AsyncSession, contract: Contract) -> tuple[ScreeningApproval, ...]:
    """Every approval recorded on ``contract``, as screening honours them."""
    return tuple(_as_screening(row) for row in await approvals_of(session, contract))


async def policy_for(session: AsyncSession, contract: Contract, route: Route) -> ScreeningPolicy:
    """What the intake screens for when ``route`` delivers to ``contract``: the route's choice of value scanning
    and every approval recorded on the contract."""
    return ScreeningPolicy(scan_values=route.scan_values, approvals=await screening_approvals(session, contract))


def unapproved(items: Iterable[str], approvals: Iterable[ScreeningApproval]) -> tuple[ScreeningHit, ...]:
    """The forbidden-category items that no approval covers."""
    policy = ScreeningPolicy(approvals=tuple(approvals))
    return tuple(hit for hit in forbidden_items(items) if policy.approval_for(hit.column) is None)


def describe_unapproved(contract_name: str, hits: Sequence[ScreeningHit]) -> str:
    return (
        f"契約「{contract_name}」の提供項目に、収集・提供が禁止されている事項に該当する項目があります: "
        f"{describe_hits(hits, DEFAULT_CATEGORIES)}。"
        "取込みファイルでは契約の sensitive_approvals に承諾（ref・approver・on・items）を記載してください。"
        + HOW_TO_APPROVE
    )


async def approve(
    session: AsyncSession,
    contract: Contract,
    *,
    items: Sequence[str],
    document_ref: str,
    approver: str,
    approved_on: date,
    recorded_by: Handler | str,
) -> SensitiveApproval:
    """Record the ward's approval for ``items`` on ``contract``; each item must reveal a forbidden category (an
    approval for an ordinary item would only make the record misleading)."""
    items = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not items:
        raise SensitiveApprovalError("承諾する項目を入力してください。")
    if not document_ref.strip() or not approver.strip():
        raise SensitiveApprovalError("文書番号と承諾者を入力してください。")
    ordinary = [item for item in items if not forbidden_items([item])]
    if ordinary:
        raise SensitiveApprovalError(
            f"次の項目は収集・提供が禁止されている事項に該当しないため、承諾の記録は不要です: {'、'.join(ordinary)}"
        )
    recorder = recorded_by.label if isinstance(recorded_by, Handler) else recorded_by
    row = SensitiveApproval(
        contract_id=contract.id,
        document_ref=document_ref.strip(),
        approver=approver.strip(),
        approved_on=approved_on,
        items=items,
        recorded_by=recorder,
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.SENSITIVE_APPROVED,
            category=Category.ADMIN,
            content=(
                f"要配慮項目の承諾の記録（{'、'.join(items)}／{row.document_ref}、承諾日 {to_wareki(approved_on)}）"
            ),
            contract_id=contract.public_id,
            handler_from=recorder,
            handler_to=contract.name,
            details={
                "approval": row.public_id,
                "ref": row.document_ref,
                "approver": row.approver,
                "approved_on": approved_on.isoformat(),
                "items": items,
                "recorded_by": recorded_by.details() if isinstance(recorded_by, Handler) else {"name": recorder},
            },
        ),
    )
    return row
