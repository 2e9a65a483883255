"""The ward's approvals (甲の承諾) for items in a forbidden category on one contract (C-07, 特記事項5)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, new_public_id, utcnow


class SensitiveApproval(Base):
    """A written approval to pass the listed ``items`` (column names) although they reveal a forbidden category.

    ``recorded_by`` names who entered it, as a register line does (``区役 次郎（staff-fukushi）``, or the import
    file's path when it came with a contract). An approval is never edited: a new one is recorded instead.
    """

    __tablename__ = "sensitive_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    document_ref: Mapped[str] = mapped_column(String(200))
    approver: Mapped[str] = mapped_column(String(200))
    approved_on: Mapped[date]
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    recorded_by: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
