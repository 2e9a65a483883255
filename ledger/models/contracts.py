"""Programs, contracts (with sub-contract approvals), designations and routes (SPEC §1, C-05, C-06, C-20)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow
from ledger.models.parties import Party, Person


class DesignationRole(enum.StrEnum):
    MANAGER = "manager"  # 取扱責任者
    HANDLER = "handler"  # 取扱者


class Program(Base):
    """A registered business (登録業務) such as 生活保護 追加給付; its benefit plugin is chosen by ``code``."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(100))


class Contract(Base):
    """委託契約: ward → contractor, or contractor → sub-contractor when ``parent_id`` is set."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(500), default="")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    allowed_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    collected_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    retention_days_after_receipt: Mapped[int] = mapped_column(default=30)
    retention_grace_days: Mapped[int] = mapped_column(default=14)
    password_delay_hours: Mapped[int] = mapped_column(default=24)
    # A delay of 0 lets a password follow its data at once: only as the ward's recorded choice, with its reason.
    password_delay_zero_reason: Mapped[str | None] = mapped_column(Text)
    download_limit: Mapped[int] = mapped_column(default=3)
    # C-16: how many copies each handler may take of one package (None: only the package's own limit applies).
    download_limit_per_handler: Mapped[int | None]
    # The ward's written approval (承諾) of a sub-contract (C-06); required before data flows to it.
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    approval_ref: Mapped[str | None] = mapped_column(String(200))
    approval_revoked_at: Mapped[datetime | None]
    # What the contractor may upload: kinds, suffixes per kind and a size limit (``exchange.inbound.rules``);
    # None: the hub's defaults.
    upload_rules: Mapped[dict[str, object] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship()
    party: Mapped[Party] = relationship()
    parent: Mapped[Contract | None] = relationship(remote_side=[id])
    designations: Mapped[list[Designation]] = relationship(back_populates="contract")


class Designation(Base):
    """A person reported in advance as 取扱責任者 or 取扱者 for one contract (C-05)."""

    __tablename__ = "designations"
    __table_args__ = (UniqueConstraint("contract_id", "person_id", name="uq_designations_contract_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[DesignationRole] = mapped_column(enum_column(DesignationRole))
    designated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship(back_populates="designations")
    person: Mapped[Person] = relationship()


class Route(Base):
    """A watched folder and where its files go: one target per receiving contract."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    # Folders under the data directory are stored relative to it (resolved against the running hub's own data
    # directory, ``exchange.folders``), so a restored copy never watches the original's; others are absolute.
    watch_dir: Mapped[str] = mapped_column(String(1000))
    quarantine_dir: Mapped[str] = mapped_column(String(1000))
    processed_dir: Mapped[str | None] = mapped_column(String(1000))
    force_polling: Mapped[bool] = mapped_column(default=False)
    encoding: Mapped[str | None] = mapped_column(String(20))
    allowed_file_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # C-07: scan cell values, not only column names, for the forbidden categories (free text hits by accident,
    # so a ward turns it on per route).
    scan_values: Mapped[bool] = mapped_column(default=False)

    program: Mapped[Program] = relationship()
    targets: Mapped[list[RouteTarget]] = relationship(back_populates="route", order_by="RouteTarget.id")


class RouteTarget(Base):
    """One recipient contract of a route, the connector that carries its data and the fallback channel."""

    __tablename__ = "route_targets"
    __table_args__ = (UniqueConstraint("route_id", "contract_id", name="uq_route_targets_route_contract"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    connector: Mapped[str] = mapped_column(String(100))
    fallback_connector: Mapped[str | None] = mapped_column(String(100))
    password_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Columns the ward extracts but this recipient must not get, removed before packing (e.g. account numbers).
    drop_items: Mapped[list[str]] = mapped_column(JSON, default=list)

    route: Mapped[Route] = relationship(back_populates="targets")
    contract: Mapped[Contract] = relationship()
