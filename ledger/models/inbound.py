"""Files contractors upload through the portal (print logs, entered data, evidence scans, deletion certificates)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, enum_column, new_public_id, utcnow


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # 受領: scanned clean, passed the contract's checks, kept sealed
    QUARANTINED = "quarantined"  # 隔離: kept sealed with ``reason_ja``; staff release or discard it
    RELEASED = "released"  # 解除: staff released a quarantined upload (the staff side records who and why)
    DISCARDED = "discarded"  # 破棄: the sealed file is deleted (crypto-erased); the row stays as the record


STATUS_LABELS: dict[InboundStatus, str] = {
    InboundStatus.RECEIVED: "受領",
    InboundStatus.QUARANTINED: "隔離",
    InboundStatus.RELEASED: "隔離解除",
    InboundStatus.DISCARDED: "破棄",
}


class InboundFile(Base):
    """A file a contractor uploaded, stored sealed per contract.

    ``blob_key`` names the sealed blob in the hub's blob store (``uploads/<public_id>``, sealed with
    ``exchange.keys.sealed_files``, AAD ``b"inbound:" + public_id``) when ``sealed`` is true. A row from before
    sealing (``sealed`` false) still holds the absolute path of its plain file until ``handover db
    move-sealed-files`` seals it into the store.
    """

    __tablename__ = "inbound_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(30))
    file_name: Mapped[str] = mapped_column(String(300))
    blob_key: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    sealed: Mapped[bool] = mapped_column(default=True)
    status: Mapped[InboundStatus] = mapped_column(
        enum_column(InboundStatus), default=InboundStatus.RECEIVED, index=True
    )
    # Why the upload was quarantined (shown to the contractor and to staff), in Japanese.
    reason_ja: Mapped[str | None] = mapped_column(Text)
    # Data records (header excluded) of a tabular upload; None for scans, PDFs and unreadable tables.
    records: Mapped[int | None]
    # Problems the program's plugin found in returned records (S1 申請型 check), Japanese, one per line.
    findings: Mapped[list[str] | None] = mapped_column(JSON)
