"""Return folders: where the ward wants what came back delivered on its intranet, as AES ZIPs (the mirror of the
watched folders), and each delivery made into one, with its password sealed until the split-password rule lets
a member of staff pick it up on another occasion and channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, new_public_id, utcnow


class ReturnFolder(Base):
    """A folder on the ward's intranet for one contract's returns, or for every contract of one section.

    Exactly one of ``contract_id`` and ``section`` is set (the import checks it); a contract's own folder wins over
    its section's.
    """

    __tablename__ = "return_folders"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    path: Mapped[str] = mapped_column(String(1000))  # relative to the data directory when under it (0024)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), unique=True)
    section: Mapped[str | None] = mapped_column(String(100), unique=True)
    # Where staff may pick up a delivered ZIP's password (``policies.channels``): never the folder itself.
    password_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnDelivery(Base):
    """One accepted upload written into a return folder as an AES-256 ZIP; its password is only ever stored sealed
    (AAD ``b"return:" + public_id``)."""

    __tablename__ = "return_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    inbound_file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), unique=True)
    return_folder_id: Mapped[int] = mapped_column(ForeignKey("return_folders.id"), index=True)
    zip_name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sealed_password: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Staff confirmed the ZIP arrived in the folder: the occasion after which its password may follow.
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
