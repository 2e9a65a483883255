"""Scheduled duties and what they produce: deletion certificates, returns, inspections, incidents, log findings.

Each duty's schedule and lease live in ``duty_states`` so that several hub processes share one timetable and a
restarted process picks it up where it stood; ``duty_runs`` keeps every run, which the portal and the tests read.
Reminders and escalations of every duty are ``duty_notices`` rows, unique per subject and occasion, so a duty that
runs twice never reminds twice.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.parties import Party


class DutyState(Base):
    """One periodic duty: when it is next due and who holds it now (a lease that expires if its holder dies)."""

    __tablename__ = "duty_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    next_due_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
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


class HubCertificateStatus(enum.StrEnum):
    OPEN = "open"  # sweeping: some copies are not yet confirmed gone
    ISSUED = "issued"


class HubDeletionCertificate(Base):
    """The hub's own deletion certificate (NIST SP 800-88 Rev.1 App. G) over one sweep's packages."""

    __tablename__ = "hub_deletion_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    status: Mapped[HubCertificateStatus] = mapped_column(
        enum_column(HubCertificateStatus), default=HubCertificateStatus.OPEN, index=True
    )
    opened_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    document: Mapped[str | None] = mapped_column(Text)  # canonical JSON, the signed bytes
    signature: Mapped[str | None] = mapped_column(String(200))  # base64 Ed25519 over ``document``
    vkey: Mapped[str | None] = mapped_column(String(300))
    validated_by: Mapped[str | None] = mapped_column(String(200))
    validated_at: Mapped[datetime | None]
    validation_comment: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[HubDeletionItem]] = relationship(back_populates="certificate", order_by="HubDeletionItem.id")


class HubDeletionItem(Base):
    """One package in a certificate; ``copies`` records each copy, how it was removed and how that was verified."""

    __tablename__ = "hub_deletion_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("hub_deletion_certificates.id"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), unique=True)
    due_at: Mapped[datetime]
    copies: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    erased_at: Mapped[datetime | None]

    certificate: Mapped[HubDeletionCertificate] = relationship(back_populates="items")
    package: Mapped[Package] = relationship()


class ErasureMethod(enum.StrEnum):
    """NIST SP 800-88 sanitization categories, as a contractor certifies them."""

    CLEAR = "clear"
    PURGE = "purge"
    DESTROY = "destroy"


class CertificateRequest(Base):
    """A request to the party of one contract for its 消去証明書 over every package it received."""

    __tablename__ = "certificate_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), unique=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # contract_end | on_demand
    requested_at: Mapped[datetime]
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship()
    party: Mapped[Party] = relationship()
    submissions: Mapped[list[ContractorCertificate]] = relationship(back_populates="request")


class ContractorCertificate(Base):
    """A submitted 消去証明書: how, when and by whom the listed packages were erased at the contractor."""

    __tablename__ = "contractor_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    request_id: Mapped[int] = mapped_column(ForeignKey("certificate_requests.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    submitted_at: Mapped[datetime]
    method: Mapped[ErasureMethod] = mapped_column(enum_column(ErasureMethod))
    erased_on: Mapped[date]
    media: Mapped[str] = mapped_column(String(300))
    operator: Mapped[str] = mapped_column(String(200))
    verifier: Mapped[str] = mapped_column(String(200))
    scan_path: Mapped[str | None] = mapped_column(String(1000))
    submitted_by: Mapped[str | None] = mapped_column(String(200))

    request: Mapped[CertificateRequest] = relationship(back_populates="submissions")
    packages: Mapped[list[ContractorCertificatePackage]] = relationship(back_populates="certificate")


class ContractorCertificatePackage(Base):
    __tablename__ = "contractor_certificate_packages"
    __table_args__ = (
        UniqueConstraint("certificate_id", "package_id", name="uq_contractor_certificate_packages_cert_package"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("contractor_certificates.id"), index=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)

    certificate: Mapped[ContractorCertificate] = relationship(back_populates="packages")


class ReturnKind(enum.StrEnum):
    PASSWORD_NOTICE = "password_notice"  # noqa: S105 - printed パスワード通知書, not a secret


class ExpectedReturn(Base):
    """Something handed over that must come back after the work (C-04, C-21)."""

    __tablename__ = "expected_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    kind: Mapped[ReturnKind] = mapped_column(enum_column(ReturnKind))
    reference: Mapped[str] = mapped_column(String(100))  # media id, or the notice's package id
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    handed_over_at: Mapped[datetime]
    due_on: Mapped[date]
    returned_at: Mapped[datetime | None]
    received_by: Mapped[str | None] = mapped_column(String(200))
    overdue_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship()


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
