"""Files taken in from watched folders, the encrypted packages made from them, and password releases.

These rows are the durable work queue (ARCHITECTURE "Durable flow"): each step moves a row's status forward
and a crashed worker's lease expires, so another worker resumes where it stopped.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow
from ledger.models.contracts import Contract, Route, RouteTarget


class IntakeStatus(enum.StrEnum):
    PENDING = "pending"  # seen stable in the watched folder, not yet packed
    PACKED = "packed"  # every recipient's package is sealed in the store
    DELIVERED = "delivered"  # every package reached its endpoint (or a fallback), verified
    FINISHED = "finished"  # the original has left the drop folder and the result file is written
    QUARANTINED = "quarantined"  # refused; the file is in the quarantine folder with a reason


class PackageStatus(enum.StrEnum):
    SEALED = "sealed"
    DELIVERED = "delivered"
    FAILED = "failed"
    DELETED = "deleted"


class IntakeFile(Base):
    __tablename__ = "intake_files"
    __table_args__ = (
        # One active row per file in a folder; a file dropped again after it left is a new row.
        Index(
            "uq_intake_files_active_path",
            "route_id",
            "source_path",
            unique=True,
            sqlite_where=text("status IN ('pending', 'packed', 'delivered')"),
            postgresql_where=text("status IN ('pending', 'packed', 'delivered')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    source_path: Mapped[str] = mapped_column(String(2000))
    file_name: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Packed by hand with 'handover package': the operator's own file stays where it is.
    manual: Mapped[bool] = mapped_column(default=False)
    status: Mapped[IntakeStatus] = mapped_column(enum_column(IntakeStatus), default=IntakeStatus.PENDING, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason_ja: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    route: Mapped[Route] = relationship()
    packages: Mapped[list[Package]] = relationship(back_populates="intake", order_by="Package.id")


class Package(Base):
    """One recipient's AES-256 ZIP. The password is only ever stored sealed (envelope encryption)."""

    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intake_files.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    route_target_id: Mapped[int | None] = mapped_column(ForeignKey("route_targets.id"))
    status: Mapped[PackageStatus] = mapped_column(enum_column(PackageStatus), default=PackageStatus.SEALED, index=True)
    zip_name: Mapped[str] = mapped_column(String(300))
    store_path: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # files, records, items: no personal data
    sealed_password: Mapped[bytes | None] = mapped_column(LargeBinary)  # None after crypto-erase
    key_id: Mapped[str] = mapped_column(String(64))
    connector: Mapped[str] = mapped_column(String(100))
    delivered_via: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    download_limit: Mapped[int] = mapped_column(default=3)
    download_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    frozen_at: Mapped[datetime | None]
    # Ward staff withdrew the package: no further download or password release on any channel.
    revoked_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    intake: Mapped[IntakeFile | None] = relationship(back_populates="packages")
    contract: Mapped[Contract] = relationship()
    route_target: Mapped[RouteTarget | None] = relationship()


class PasswordRelease(Base):
    """Every decision to release or refuse a package password: who, when, which channel, and why."""

    __tablename__ = "password_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    allowed: Mapped[bool]
    reason_code: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
