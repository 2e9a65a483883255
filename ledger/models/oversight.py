"""The ward's oversight (C-11, C-18, C-19): inspections, incidents, access-log reviews and their findings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, new_public_id
from ledger.models.contracts import Contract
from ledger.models.packages import Package


class Inspection(Base):
    """The yearly inspection of one contract's party (C-19)."""

    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("contract_id", "fiscal_year", name="uq_inspections_contract_fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    fiscal_year: Mapped[int]
    due_on: Mapped[date]
    performed_on: Mapped[date | None]
    inspector: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str | None] = mapped_column(String(20))  # 適合 | 要改善
    findings: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship()


class Incident(Base):
    """An incident (漏えい等事案, C-18) and its deadlines for the reports to the PPC."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    reported_by: Mapped[str] = mapped_column(String(200))
    discovered_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    wrongful_purpose: Mapped[bool] = mapped_column(default=False)
    preliminary_due_at: Mapped[datetime]
    final_due_at: Mapped[datetime]
    preliminary_reported_at: Mapped[datetime | None]
    final_reported_at: Mapped[datetime | None]

    contract: Mapped[Contract | None] = relationship()
    packages: Mapped[list[IncidentPackage]] = relationship(back_populates="incident", order_by="IncidentPackage.id")


class IncidentPackage(Base):
    __tablename__ = "incident_packages"
    __table_args__ = (UniqueConstraint("incident_id", "package_id", name="uq_incident_packages_incident_package"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    frozen_at: Mapped[datetime]
    access_removed: Mapped[str] = mapped_column(Text)  # what happened to endpoint access, for the report

    incident: Mapped[Incident] = relationship(back_populates="packages")
    package: Mapped[Package] = relationship()


class AccessReview(Base):
    """The compliance officer's record that a fiscal year's findings were reviewed (C-11)."""

    __tablename__ = "access_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)
    findings_reviewed: Mapped[int]


class AccessFinding(Base):
    """Something in the audit log that a person should look at; ``key`` keeps re-analysis from duplicating it."""

    __tablename__ = "access_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rule: Mapped[str] = mapped_column(String(50), index=True)
    fiscal_year: Mapped[int] = mapped_column(index=True)
    at: Mapped[datetime]
    # Plain ids, like the audit log's own: findings must outlive a removed account.
    account_id: Mapped[int | None]
    person_id: Mapped[int | None]
    source_ip: Mapped[str | None] = mapped_column(String(64))
    summary_ja: Mapped[str] = mapped_column(Text)
    event_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    found_at: Mapped[datetime]
    review_id: Mapped[int | None] = mapped_column(ForeignKey("access_reviews.id"))
