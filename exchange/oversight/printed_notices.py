"""Printed matter that changes hands on paper (C-03, seed 001 and 004): sealed notices and paper hand-overs.

The printer delivers the sealed notices (封入封緘済み通知書) to the ward: the printer records the delivery (date,
quantity, who brought them) and ward staff confirm what arrived; both are register lines (区分「納品」). Ward staff
also record a hand-over made on paper or in person (seed 004: paper ○), in either direction, with the date, both
handlers, the content and the quantity, so the register holds it beside the electronic ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Program
from ledger.models.registers import NoticeDelivery
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki

MAX_QUANTITY = 10_000_000  # more than any ward mails in a year: a typo, not a delivery
NOTICE_CONTENT = "封入封緘済み通知書"


class PrintedMatterError(ValueError):
    """A delivery or hand-over that cannot be recorded; the message is Japanese, for the person at the desk."""


def _quantity(value: int) -> int:
    if not 0 < value <= MAX_QUANTITY:
        raise PrintedMatterError("数量は1以上の整数で入力してください。")
    return value


def _text(value: str, label: str, limit: int = 200) -> str:
    text = value.strip()
    if not text:
        raise PrintedMatterError(f"{label}を入力してください。")
    return text[:limit]


async def record_delivery(
    session: AsyncSession,
    contract: Contract,
    *,
    delivered_on: date,
    quantity: int,
    delivered_by: str,
    recorded_by: str,
    content: str = NOTICE_CONTENT,
) -> NoticeDelivery:
    """The printer's record of sealed notices delivered to the ward; staff confirm it later."""
    delivery = NoticeDelivery(
        contract_id=contract.id,
        delivered_on=delivered_on,
        quantity=_quantity(quantity),
        content=_text(content, "内容", 300),
        delivered_by=_text(delivered_by, "納品した方の氏名"),
        recorded_by=recorded_by,
        recorded_at=utcnow(),
    )
    session.add(delivery)
    await session.flush()
    program = await session.get(Program, contract.program_id)
    assert program is not None  # enforced by the foreign key
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.NOTICES_DELIVERED,
            category=Category.PRINT_DELIVERED,
            content=f"{delivery.content}の納品（納品日 {to_wareki(delivered_on)}、記録者 {recorded_by}）",
            contract_id=contract.public_id,
            handler_from=delivery.delivered_by,
            handler_to=program.section,  # the receiving section; the member of staff is named on confirming
            quantity={"notices": delivery.quantity},
            channel="対面",
            details={"delivery": delivery.public_id, "delivered_on": delivered_on.isoformat()},
        ),
    )
    return delivery


async def deliveries(session: AsyncSession, contract: Contract) -> list[NoticeDelivery]:
    query = select(NoticeDelivery).where(NoticeDelivery.contract_id == contract.id).order_by(NoticeDelivery.id.desc())
    return list((await session.scalars(query)).all())


async def delivery_of(session: AsyncSession, public_id: str) -> NoticeDelivery:
    delivery = await session.scalar(select(NoticeDelivery).where(NoticeDelivery.public_id == public_id))
    if delivery is None:
        raise PrintedMatterError(f"納品の記録「{public_id}」が見つかりません。")
    return delivery


async def confirm_delivery(
    session: AsyncSession, delivery: NoticeDelivery, *, confirmed_by: str, quantity: int | None = None
) -> NoticeDelivery:
    """Ward staff confirm a delivery; a counted quantity that differs from the printer's is recorded as such."""
    if delivery.confirmed_at is not None:
        raise PrintedMatterError(f"この納品は確認済みです（{delivery.confirmed_by}）。")
    counted = _quantity(quantity) if quantity is not None else delivery.quantity
    delivery.confirmed_by, delivery.confirmed_at, delivery.confirmed_quantity = confirmed_by, utcnow(), counted
    contract = await session.get(Contract, delivery.contract_id)
    assert contract is not None  # enforced by the foreign key
    differs = f"、納品記録の{delivery.quantity:,}通と相違" if counted != delivery.quantity else ""
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.NOTICES_CONFIRMED,
            category=Category.PRINT_DELIVERED,
            content=f"{delivery.content}の納品確認（納品日 {to_wareki(delivery.delivered_on)}{differs}）",
            contract_id=contract.public_id,
            handler_from=delivery.delivered_by,
            handler_to=confirmed_by,
            quantity={"notices": counted},
            channel="対面",
            details={"delivery": delivery.public_id, "recorded_quantity": delivery.quantity},
        ),
    )
    return delivery


class Direction(enum.StrEnum):
    TO_CONTRACTOR = "to_contractor"  # the ward hands paper to the contractor (提供)
    FROM_CONTRACTOR = "from_contractor"  # the contractor hands paper to the ward (受領)


DIRECTIONS = {
    Direction.TO_CONTRACTOR: "区から事業者へ渡した（提供）",
    Direction.FROM_CONTRACTOR: "事業者から区が受け取った（受領）",
}
CHANNELS = {"paper": "紙", "in_person": "対面"}


@dataclass(frozen=True)
class PaperHandover:
    """What staff record of one paper or in-person hand-over; ``staff`` and ``counterpart`` are labels."""

    direction: Direction
    handed_on: date
    staff: str
    counterpart: str
    content: str
    quantity: int
    channel: str = "paper"


async def record_paper_handover(session: AsyncSession, contract: Contract, handover: PaperHandover) -> None:
    """One register line (提供 or 受領) for a hand-over that did not go through the hub."""
    if handover.channel not in CHANNELS:
        raise PrintedMatterError("受渡しの方法を選んでください（紙・対面）。")
    content = _text(handover.content, "情報の内容", 300)
    quantity = _quantity(handover.quantity)
    outgoing = handover.direction is Direction.TO_CONTRACTOR
    giver, taker = (handover.staff, handover.counterpart) if outgoing else (handover.counterpart, handover.staff)
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PAPER_HANDED_OVER,
            category=Category.PROVIDED if outgoing else Category.RECEIVED,
            content=f"{content}（受渡日 {to_wareki(handover.handed_on)}）",
            contract_id=contract.public_id,
            handler_from=giver,
            handler_to=taker,
            quantity={"documents": quantity},
            channel=CHANNELS[handover.channel],
            details={"handed_on": handover.handed_on.isoformat(), "recorded_by": handover.staff},
        ),
    )
