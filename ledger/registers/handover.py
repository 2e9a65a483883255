"""The handover register (管理簿・確認記録票): every hand-over step, written through one function.

Each call appends one tamper-evident ledger entry in the caller's transaction, so the business change and its
register line commit together. Entries name handlers (staff and contractor people) but never residents' data:
content is described by file names, item names and counts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.tlog.appending import append


class Category(enum.StrEnum):
    """区分 of a register line, as the ward's paper ledgers name them."""

    PROVIDED = "提供"
    RECEIVED = "受領"
    RETURNED = "返却"
    ERASED = "消去"
    PASSWORD_NOTICE = "パスワード通知"  # noqa: S105 - a category name, not a secret
    PRINT_DELIVERED = "納品"
    REFUSED = "受付拒否"
    ADMIN = "管理"


@dataclass(frozen=True)
class RegisterEntry:
    """One step. ``kind`` is the machine name (``package.delivered``); ``category`` what a person reads."""

    kind: str
    category: Category
    content: str
    contract_id: str | None = None
    package_id: str | None = None
    handler_from: str | None = None
    handler_to: str | None = None
    quantity: Mapping[str, int] = field(default_factory=dict)
    channel: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        return {
            "category": self.category.value,
            "content": self.content,
            "handler_from": self.handler_from,
            "handler_to": self.handler_to,
            "quantity": dict(self.quantity),
            "channel": self.channel,
            "details": dict(self.details),
        }


async def record(session: AsyncSession, entry: RegisterEntry) -> int:
    """Write one register line; returns its ledger index."""
    return await append(
        session, entry.kind, entry.payload(), contract_id=entry.contract_id, package_id=entry.package_id
    )
