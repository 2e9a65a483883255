"""The media register (C-21): a DVD is registered when sealed, handed over, and returned by its due date.

Each step updates the ``Medium`` row and writes a register line in the same transaction. The people are given
by person code and checked here, whoever calls (C-05): the ward's side must be staff of the section owning the
contract, the contractor's side designated on it; rows and register lines name them with their code. The
description comes from the DVD connector (``connectors.media.MediumDescription``); it is accepted through a
protocol because the ledger must not depend on connectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.registers import Medium
from ledger.registers import handlers
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date, to_wareki

CHANNEL = "media"


class MediaRegisterError(ValueError):
    """A step that does not fit the medium's state, or a person who may not take part in it; the message is
    Japanese, for the person at the desk."""


async def _staff(session: AsyncSession, contract: Contract, code: str) -> handlers.Handler:
    try:
        return await handlers.ward_staff(session, contract, code)
    except handlers.NotAllowedHandler as exc:
        raise MediaRegisterError(str(exc)) from None


async def check_staff(session: AsyncSession, contract: Contract, code: str) -> None:
    """Refuse (``MediaRegisterError``) unless ``code`` is ward staff of the section owning ``contract``."""
    await _staff(session, contract, code)


async def _designated(session: AsyncSession, contract: Contract, code: str, at: datetime) -> handlers.Handler:
    try:
        return await handlers.designated(session, contract, code, at=at)
    except handlers.NotAllowedHandler as exc:
        raise MediaRegisterError(str(exc)) from None


class MediumFileFacts(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...


class MediumFacts(Protocol):
    """What a sealed medium is; ``connectors.media.MediumDescription`` has these attributes."""

    @property
    def media_id(self) -> str: ...
    @property
    def files(self) -> Sequence[MediumFileFacts]: ...
    @property
    def image_size(self) -> int: ...
    @property
    def image_sha256(self) -> str: ...


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    if moment.tzinfo is None:
        raise ValueError("a naive datetime cannot be placed on the register")
    return moment


def _quantity(medium: Medium) -> dict[str, int]:
    return {"media": 1, "files": len(medium.contents), "bytes": medium.image_size}


def _content(medium: Medium) -> str:
    names = "、".join(str(item["name"]) for item in medium.contents)
    return f"DVD {medium.media_id}（{names}）"


async def register_medium(
    session: AsyncSession, contract: Contract, facts: MediumFacts, *, prepared_by: str, at: datetime | None = None
) -> Medium:
    """Record a sealed medium, before it leaves the building; ``prepared_by`` is a ward staff member's code."""
    preparer = await _staff(session, contract, prepared_by)
    medium = Medium(
        media_id=facts.media_id,
        contract_id=contract.id,
        contents=[{"name": f.name, "size": f.size, "sha256": f.sha256} for f in facts.files],
        image_size=facts.image_size,
        image_sha256=facts.image_sha256,
        prepared_by=preparer.label,
        prepared_at=_aware(at),
    )
    medium.contract = contract
    session.add(medium)
    await session.flush()
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.MEDIUM_PREPARED,
            category=Category.ADMIN,
            content=f"媒体作成: {_content(medium)}",
            contract_id=contract.public_id,
            handler_from=preparer.label,
            quantity=_quantity(medium),
            channel=CHANNEL,
            details={
                "media_id": medium.media_id,
                "image_sha256": medium.image_sha256,
                "files": medium.contents,
                "prepared_by": preparer.details(),
            },
        ),
    )
    return medium


async def hand_over(
    session: AsyncSession,
    medium: Medium,
    *,
    handed_by: str,
    handed_to: str,
    due_back_on: date,
    at: datetime | None = None,
) -> Medium:
    """The disc leaves the ward: to whom (a designated person's code), by whom (a ward staff member's code), and
    when it must come back."""
    if medium.handed_at is not None:
        raise MediaRegisterError(f"媒体 {medium.media_id} は引渡し済みです（{to_wareki(medium.handed_at)}）。")
    moment = _aware(at)
    if due_back_on < jst_date(moment):
        raise MediaRegisterError(f"返却期限 {to_wareki(due_back_on)} が引渡日より前です。")
    contract = await _contract(session, medium)
    giver = await _staff(session, contract, handed_by)
    taker = await _designated(session, contract, handed_to, moment)
    medium.handed_by, medium.handed_to = giver.label, taker.label
    medium.handed_at, medium.due_back_on = moment, due_back_on
    await session.flush()
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.MEDIUM_HANDED_OVER,
            category=Category.PROVIDED,
            content=_content(medium),
            contract_id=contract.public_id,
            handler_from=giver.label,
            handler_to=taker.label,
            quantity=_quantity(medium),
            channel=CHANNEL,
            details={
                "media_id": medium.media_id,
                "handed_at": moment,
                "due_back_on": due_back_on,
                "handed_by": giver.details(),
                "handed_to": taker.details(),
            },
        ),
    )
    return medium


async def record_return(
    session: AsyncSession, medium: Medium, *, returned_by: str, received_by: str, at: datetime | None = None
) -> Medium:
    """The disc is back at the ward: brought by a person designated on the contract (``returned_by``, a code),
    received by ward staff of the owning section (``received_by``, a code)."""
    if medium.handed_at is None:
        raise MediaRegisterError(f"媒体 {medium.media_id} は引き渡されていないため、返却を記録できません。")
    if medium.returned_at is not None:
        raise MediaRegisterError(f"媒体 {medium.media_id} は返却済みです（{to_wareki(medium.returned_at)}）。")
    moment = _aware(at)
    if moment < medium.handed_at:
        raise MediaRegisterError("返却日時が引渡日時より前です。")
    contract = await _contract(session, medium)
    bringer = await _designated(session, contract, returned_by, moment)
    receiver = await _staff(session, contract, received_by)
    medium.returned_by, medium.received_by, medium.returned_at = bringer.label, receiver.label, moment
    await session.flush()
    assert medium.due_back_on is not None  # set by hand_over, which must have happened
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.MEDIUM_RETURNED,
            category=Category.RETURNED,
            content=_content(medium),
            contract_id=contract.public_id,
            handler_from=bringer.label,
            handler_to=receiver.label,
            quantity=_quantity(medium),
            channel=CHANNEL,
            details={
                "media_id": medium.media_id,
                "returned_at": moment,
                "late": jst_date(moment) > medium.due_back_on,
                "returned_by": bringer.details(),
                "received_by": receiver.details(),
            },
        ),
    )
    return medium


async def _contract(session: AsyncSession, medium: Medium) -> Contract:
    # An async session cannot lazy-load; fetch the contract explicitly when the relationship is not loaded.
    contract = await session.get(Contract, medium.contract_id)
    assert contract is not None  # enforced by the foreign key
    return contract


async def get_medium(session: AsyncSession, media_id: str) -> Medium:
    medium = await session.scalar(select(Medium).where(Medium.media_id == media_id))
    if medium is None:
        raise MediaRegisterError(f"媒体 {media_id} は登録されていません。")
    return medium


async def overdue_returns(session: AsyncSession, today: date, *, contract_ids: Sequence[int] = ()) -> list[Medium]:
    """Media handed over and not returned although their due date has passed, oldest due first."""
    query = (
        select(Medium)
        .options(selectinload(Medium.contract))
        .where(Medium.handed_at.is_not(None), Medium.returned_at.is_(None), Medium.due_back_on < today)
        .order_by(Medium.due_back_on, Medium.media_id)
    )
    if contract_ids:
        query = query.where(Medium.contract_id.in_(contract_ids))
    return list((await session.scalars(query)).all())
