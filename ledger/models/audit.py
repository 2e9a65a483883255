"""The portal's audit log (C-11): one row per access.

``AuditEvent`` deliberately has no foreign keys, like the ledger: it must outlive what it records, and the
access-log analysis reads it as a plain table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, utcnow


class AuditEvent(Base):
    """Who did what, when, from where, to which object, and whether it was allowed. No residents' data."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(index=True)
    person_id: Mapped[int | None]
    party_id: Mapped[int | None]
    source_ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))  # 'allowed' | 'denied' | 'failed'
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The login occasion the request came in (``exchange.web.sessions.occasion``): a hash of the session's
    # stored cookie hash ("web:…") or of the API token's hash ("api:…"), never a value that can be replayed.
    # The split-password rule reads it to refuse a password in the session that downloaded the data (C-02).
    login_session: Mapped[str | None] = mapped_column(String(80))
