"""Login details that providers give the ward out of band (C-22), e.g. an LGWAN-ASP service's page and account.

The password is kept sealed with the master key (``exchange.keys.sealing``), never as text; the page address and
login ID are not secret. A new record for the same name replaces the old one (``replaced_at``), so the history of
who received which login and when stays. ``rotate_due_on`` drives the rotation reminder duty.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, new_public_id, utcnow


class ProviderCredential(Base):
    __tablename__ = "provider_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(100), index=True)  # what the ward calls it, e.g. the connector name
    provider: Mapped[str] = mapped_column(String(200))
    page_url: Mapped[str] = mapped_column(String(500))
    login_id: Mapped[str] = mapped_column(String(200))
    sealed_password: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))  # 手渡し, 簡易書留 or 口頭
    received_by: Mapped[str] = mapped_column(String(200))  # the ward staff member, name and person code
    received_at: Mapped[datetime]
    section: Mapped[str | None] = mapped_column(String(100))  # whose staff are reminded to rotate it
    rotate_every_days: Mapped[int] = mapped_column(default=90)
    rotate_due_on: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[datetime | None]
