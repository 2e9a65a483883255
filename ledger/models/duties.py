"""Scheduled duties: their shared timetable, every run, and the reminders they send.

Each duty's schedule and lease live in ``duty_states`` so that several hub processes share one timetable and a
restarted process picks it up where it stood; ``duty_runs`` keeps every run, which the portal and the tests read.
Reminders and escalations of every duty are ``duty_notices`` rows, unique per subject and occasion, so a duty that
runs twice never reminds twice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, enum_column, utcnow


class DutyState(Base):
    """One periodic duty: when it is next due and who holds it now (a lease that expires if its holder dies)."""

    __tablename__ = "duty_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    next_due_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    # Incremented by every claim; the run's final commit is fenced on it (``exchange.leases``).
    lease_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)


class DutyRun(Base):
    """One run of a duty for one due time, as the portal shows it (escalations included in ``result``)."""

    __tablename__ = "duty_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    due_at: Mapped[datetime]
    owner: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NoticeAudience(enum.StrEnum):
    CONTRACTOR = "contractor"
    WARD = "ward"  # an escalation: ward staff must act


class DutyNotice(Base):
    """A reminder or escalation; ``occasion`` makes it unique, so a re-run never sends it twice."""

    __tablename__ = "duty_notices"
    __table_args__ = (UniqueConstraint("kind", "subject_id", "occasion", name="uq_duty_notices_kind_subject_occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    subject_id: Mapped[str] = mapped_column(String(36))
    occasion: Mapped[str] = mapped_column(String(64))
    audience: Mapped[NoticeAudience] = mapped_column(enum_column(NoticeAudience))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    message_ja: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    emailed_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    email_error: Mapped[str | None] = mapped_column(Text)
