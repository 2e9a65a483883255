"""Parties (ward, contractors, sub-contractors), their people, and login accounts (SPEC §1)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow


class PartyKind(enum.StrEnum):
    WARD = "ward"
    CONTRACTOR = "contractor"
    SUBCONTRACTOR = "subcontractor"


class PersonRole(enum.StrEnum):
    STAFF = "staff"
    MANAGER = "manager"  # 取扱責任者
    HANDLER = "handler"  # 取扱者
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PartyKind] = mapped_column(enum_column(PartyKind))
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str | None] = mapped_column(String(300))

    people: Mapped[list[Person]] = relationship(back_populates="party")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[PersonRole] = mapped_column(enum_column(PersonRole))
    section: Mapped[str | None] = mapped_column(String(100))

    party: Mapped[Party] = relationship(back_populates="people")


class Account(Base):
    """A login. Admin accounts may stand alone; everyone else's belongs to a person."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[PersonRole] = mapped_column(enum_column(PersonRole))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    person: Mapped[Person | None] = relationship()
