"""Retention (C-04): the hub's deletion certificates, contractors' deletion certificates, things to be returned.

A hub deletion certificate records one sweep (the items it erased); a contractor's certificate answers a request
and covers the packages it names; an expected return is a printed notice or a DVD that must come back.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.parties import Party


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
    # The certificate's files in the blob store (``certificates/<public id>.json|sig|pdf``) and the SHA-256 of
    # the bytes put there; NULL until they are written (the row is the record, the files are derived from it).
    json_key: Mapped[str | None] = mapped_column(String(300))
    json_sha256: Mapped[str | None] = mapped_column(String(64))
    sig_key: Mapped[str | None] = mapped_column(String(300))
    sig_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_key: Mapped[str | None] = mapped_column(String(300))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))

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


class CertificateReview(enum.StrEnum):
    """The ward's decision on a submitted certificate; a returned one no longer covers its packages."""

    SUBMITTED = "submitted"  # waiting for ward staff
    ACCEPTED = "accepted"  # 受理
    RETURNED = "returned"  # 差戻し: the contractor must submit again


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
    # NIST SP 800-88 Rev. 1 Appendix G: how it was done (and with what), how it was verified, which medium.
    # Nullable: certificates submitted before these fields existed have none.
    method_detail: Mapped[str | None] = mapped_column(String(300))
    tool: Mapped[str | None] = mapped_column(String(300))
    verification_method: Mapped[str | None] = mapped_column(String(300))
    verification_result: Mapped[str | None] = mapped_column(String(300))
    media_type: Mapped[str | None] = mapped_column(String(100))
    media_serial: Mapped[str | None] = mapped_column(String(200))
    review: Mapped[CertificateReview] = mapped_column(
        enum_column(CertificateReview), default=CertificateReview.SUBMITTED, server_default="submitted"
    )
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    review_comment: Mapped[str | None] = mapped_column(Text)

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
