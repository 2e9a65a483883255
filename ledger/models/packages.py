"""Files taken in from watched folders, the encrypted packages made from them, and password releases.

These rows are the durable work queue (ARCHITECTURE "Durable flow"): each step moves a row's status forward
and a crashed worker's lease expires, so another worker resumes where it stopped.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow
from ledger.models.contracts import Contract, Route, RouteTarget


class IntakeStatus(enum.StrEnum):
    PENDING = "pending"  # seen stable in the watched folder, not yet packed
    PACKED = "packed"  # every recipient's package is sealed in the store
    DELIVERED = "delivered"  # every package reached its endpoint (or a fallback), verified
    FINISHED = "finished"  # the original has left the drop folder and the result file is written
    QUARANTINED = "quarantined"  # refused; the file is sealed under the data directory, with a reason


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
        # One row per drop, whatever its status: a stale listing of a file already taken in cannot queue it again.
        Index("uq_intake_files_source_identity", "route_id", "source_identity", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    source_path: Mapped[str] = mapped_column(String(2000))
    file_name: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # "device:inode:size:mtime_ns:ctime_ns" as queued; NULL for manual intakes (the operator may pack a file again).
    source_identity: Mapped[str | None] = mapped_column(String(200))
    # Packed by hand with 'handover package': the operator's own file stays where it is.
    manual: Mapped[bool] = mapped_column(default=False)
    status: Mapped[IntakeStatus] = mapped_column(enum_column(IntakeStatus), default=IntakeStatus.PENDING, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    # Incremented by every claim; every commit of a step is fenced on it (``exchange.leases``).
    lease_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason_ja: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The blob key of a quarantined drop sealed at rest (``exchange.intake.sealed_quarantine``, ``quarantine/<public
    # id>``); NULL when it could not be sealed (left in place or moved as it was) and after staff discarded it or it
    # was processed after a release.
    sealed_key: Mapped[str | None] = mapped_column(String(300))
    # What staff decided about a quarantined drop ("released" or "discarded"), when, and who (as registers name).
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(300))
    # Set on the intake a release made: its content is the sealed file of that quarantined intake.
    released_from_id: Mapped[int | None] = mapped_column(ForeignKey("intake_files.id"))

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
    # Where the sealed ZIP lies in the blob store (``packages/<public id>.zip``): a key, never a host's path.
    blob_key: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # files, records, items: no personal data
    sealed_password: Mapped[bytes | None] = mapped_column(LargeBinary)  # None after crypto-erase
    key_id: Mapped[str] = mapped_column(String(64))
    connector: Mapped[str] = mapped_column(String(100))
    delivered_via: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Copies kept elsewhere (an upload whose answer was lost, then a fallback): retention deletes these too.
    other_copies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
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


class HandlerDownloadCount(Base):
    """How many counted downloads of one package one person has taken, against the contract's per-handler limit
    (C-16). Counted by a conditional UPDATE of this row, as the package's own count is, so concurrent requests in
    several processes cannot exceed it."""

    __tablename__ = "handler_download_counts"
    __table_args__ = (UniqueConstraint("package_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    count: Mapped[int] = mapped_column(default=0)
