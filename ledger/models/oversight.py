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
    # Who recorded it, and which party inspected: the ward, or the contractor that inspects its sub-contractor.
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    inspected_by_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    # The inspection report (checklist, photos), sealed in the blob store (``exchange.oversight.attachments``).
    attachment_name: Mapped[str | None] = mapped_column(String(300))
    attachment_key: Mapped[str | None] = mapped_column(String(300))
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))

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
    # Who filed each report with the PPC and its reference (受付番号 or document number).
    preliminary_reported_by: Mapped[str | None] = mapped_column(String(200))
    preliminary_reference: Mapped[str | None] = mapped_column(String(200))
    final_reported_by: Mapped[str | None] = mapped_column(String(200))
    final_reference: Mapped[str | None] = mapped_column(String(200))
    # Set when a contractor reported the incident from the portal (NULL: the ward recorded it).
    reported_by_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closing_note: Mapped[str | None] = mapped_column(Text)

    contract: Mapped[Contract | None] = relationship()
    packages: Mapped[list[IncidentPackage]] = relationship(back_populates="incident", order_by="IncidentPackage.id")
    messages: Mapped[list[IncidentMessage]] = relationship(back_populates="incident", order_by="IncidentMessage.id")


class IncidentPackage(Base):
    __tablename__ = "incident_packages"
    __table_args__ = (UniqueConstraint("incident_id", "package_id", name="uq_incident_packages_incident_package"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    frozen_at: Mapped[datetime]
    access_removed: Mapped[str] = mapped_column(Text)  # what happened to endpoint access, for the report
    unfrozen_at: Mapped[datetime | None]
    unfrozen_by: Mapped[str | None] = mapped_column(String(200))
    unfreeze_reason: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="packages")
    package: Mapped[Package] = relationship()


class IncidentMessage(Base):
    """The ward's instruction to the contractor (指示) or the contractor's answer (報告), in order."""

    __tablename__ = "incident_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # instruction | answer
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    at: Mapped[datetime]

    incident: Mapped[Incident] = relationship(back_populates="messages")


class AccessReview(Base):
    """The compliance officer's record that a fiscal year's findings were reviewed (C-11)."""

    __tablename__ = "access_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))  # the reviewer's name and code, as register lines name them
    reviewed_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)
    findings_reviewed: Mapped[int]
    # The signed-in account that reviewed (plain ids, like the audit log's: a review outlives a removed account).
    # NULL on reviews recorded before reviews were tied to an account.
    reviewer_account_id: Mapped[int | None]
    reviewer_person_id: Mapped[int | None]


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
