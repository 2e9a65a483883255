"""Things handed over that must come back (C-04, C-21): printed password notices, and DVD media.

DVDs are tracked in the media register (``ledger/registers/media.py``: hand-over, due date, return); printed
password notices here, through ``expect_return`` when printed and ``record_return`` (返却) when back. The daily
duty flags both kinds when overdue and tells ward staff once per item.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.duties.mail import Mailer
from exchange.duties.notices import NoticeKind, notify, send_emails
from ledger.models.contracts import Contract
from ledger.models.duties import NoticeAudience
from ledger.models.packages import Package
from ledger.models.retention import ExpectedReturn, ReturnKind
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.registers.media import overdue_returns
from ledger.wareki import jst_date, to_wareki

KIND_JA = {ReturnKind.PASSWORD_NOTICE: "パスワード通知書"}


async def expect_return(
    session: AsyncSession,
    *,
    kind: ReturnKind,
    reference: str,
    contract: Contract,
    handed_over_at: datetime,
    due_on: date | None = None,
    package: Package | None = None,
) -> ExpectedReturn:
    """Track an item handed over; due by default on the contract's last day."""
    item = ExpectedReturn(
        kind=kind,
        reference=reference,
        contract_id=contract.id,
        package_id=package.id if package else None,
        handed_over_at=handed_over_at,
        due_on=due_on or contract.ends_on,
    )
    session.add(item)
    await session.flush()
    return item


async def record_return(session: AsyncSession, item: ExpectedReturn, *, received_by: str, at: datetime) -> None:
    if item.returned_at is not None:
        return
    contract = await session.get(Contract, item.contract_id)
    assert contract is not None
    item.returned_at = at
    item.received_by = received_by
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.RETURN_RECEIVED,
            category=Category.RETURNED,
            content=f"{KIND_JA[item.kind]}（{item.reference}）の返却を受領",
            contract_id=contract.public_id,
            handler_to=received_by,
            quantity={"items": 1},
            details={"return_id": item.public_id, "kind": item.kind.value},
        ),
    )


async def flag_overdue(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, mailer: Mailer | None
) -> dict[str, Any]:
    today = jst_date(now)
    notices = []
    async with sessions() as session, session.begin():
        overdue = (
            await session.scalars(
                select(ExpectedReturn)
                .where(ExpectedReturn.returned_at.is_(None), ExpectedReturn.due_on < today)
                .options(selectinload(ExpectedReturn.contract))
            )
        ).all()
        for item in overdue:
            item.overdue_at = item.overdue_at or now
            notice = await notify(
                session,
                kind=NoticeKind.RETURN_OVERDUE,
                subject_id=item.public_id,
                occasion="overdue",
                audience=NoticeAudience.WARD,
                contract=item.contract,
                subject="【要対応】返却期限を過ぎた媒体・通知書があります",
                message_ja=(
                    f"契約「{item.contract.name}」の{KIND_JA[item.kind]}（{item.reference}）が返却期限"
                    f"（{to_wareki(item.due_on)}）を過ぎても返却されていません。"
                ),
            )
            notices += [notice] if notice else []
        media = await overdue_returns(session, today)
        for medium in media:
            assert medium.due_back_on is not None  # overdue_returns selects only media with a due date
            notice = await notify(
                session,
                kind=NoticeKind.MEDIA_OVERDUE,
                subject_id=medium.media_id,
                occasion="overdue",
                audience=NoticeAudience.WARD,
                contract=medium.contract,
                subject="【要対応】返却期限を過ぎた媒体・通知書があります",
                message_ja=(
                    f"契約「{medium.contract.name}」の電磁的媒体（DVD {medium.media_id}）が返却期限"
                    f"（{to_wareki(medium.due_back_on)}）を過ぎても返却されていません。"
                ),
            )
            notices += [notice] if notice else []
    sent = await send_emails(sessions, notices, mailer)
    overdue_ids = [item.public_id for item in overdue] + [medium.media_id for medium in media]
    return {"overdue": overdue_ids, "notices": len(notices), "emailed": sent}
