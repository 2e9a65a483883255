"""DVD media, print logs and sealed-notice deliveries (C-03, C-17, C-21): what the media and print registers
are built from.

These rows hold the current state (a medium is out, a reason is still missing); every change to them is also a
line in the tamper-evident register (``ledger.registers.handover``), which is the record that auditors rely on.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.models.base import Base, enum_column, new_public_id, utcnow
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.parties import Party


class Medium(Base):
    """One DVD (C-21): prepared by the ward, handed to a contractor's handler, returned by a due date."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[str] = mapped_column(String(32), unique=True)  # DVD-2026-ABCDEF, printed on the label
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    contents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # name, size, sha256 per file
    image_size: Mapped[int] = mapped_column(BigInteger)
    image_sha256: Mapped[str] = mapped_column(String(64))
    prepared_by: Mapped[str] = mapped_column(String(200))
    prepared_at: Mapped[datetime] = mapped_column(default=utcnow)
    handed_by: Mapped[str | None] = mapped_column(String(200))
    handed_to: Mapped[str | None] = mapped_column(String(200))
    handed_at: Mapped[datetime | None]
    due_back_on: Mapped[date | None]
    returned_by: Mapped[str | None] = mapped_column(String(200))
    received_by: Mapped[str | None] = mapped_column(String(200))
    returned_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship()


class PrintLog(Base):
    """A print log uploaded by a contractor (C-17), as one file."""

    __tablename__ = "print_logs"
    # The same file twice would make every row look printed twice.
    __table_args__ = (UniqueConstraint("contract_id", "sha256", name="uq_print_logs_contract_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(20))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship()
    party: Mapped[Party] = relationship()
    rows: Mapped[list[PrintLogRow]] = relationship(back_populates="print_log", order_by="PrintLogRow.line")


class PrintLogRow(Base):
    """One printed job: 印刷元コンピュータ名, 印刷日時, 印刷ファイル名, 印刷先プリンタ名, 印刷枚数."""

    __tablename__ = "print_log_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    print_log_id: Mapped[int] = mapped_column(ForeignKey("print_logs.id"), index=True)
    line: Mapped[int]  # data row number in the uploaded file, header excluded
    computer: Mapped[str] = mapped_column(String(200))
    printed_at: Mapped[datetime]
    file_name: Mapped[str] = mapped_column(String(1000))
    printer: Mapped[str] = mapped_column(String(200))
    pages: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)  # the log's own 理由 column, when it has one
    # The delivered package whose print data this file is; None when it matches none (itself a finding).
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"), index=True)

    print_log: Mapped[PrintLog] = relationship(back_populates="rows")
    package: Mapped[Package | None] = relationship()


class PrintFindingKind(enum.StrEnum):
    DUPLICATE = "duplicate"  # printed more than once: a reason is required (C-17)
    UNMATCHED = "unmatched"  # not among the print data delivered under the contract
    PAGES = "pages"  # the first print's page count is not a whole number of pages per record


class PrintFinding(Base):
    """Something in an uploaded print log that needs an explanation from the contractor."""

    __tablename__ = "print_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    print_log_id: Mapped[int] = mapped_column(ForeignKey("print_logs.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    kind: Mapped[PrintFindingKind] = mapped_column(enum_column(PrintFindingKind))
    file_name: Mapped[str] = mapped_column(String(1000))
    print_count: Mapped[int]  # prints of this file under the contract so far, this log included
    detail: Mapped[str | None] = mapped_column(String(200))  # for PAGES: the pages printed and the records
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    reason_by: Mapped[str | None] = mapped_column(String(200))
    reason_at: Mapped[datetime | None]

    print_log: Mapped[PrintLog] = relationship()
    contract: Mapped[Contract] = relationship()


class NoticeDelivery(Base):
    """Sealed notices (封入封緘済み通知書) the printer delivered to the ward (納品), and the ward's confirmation.

    The printer records date, quantity and who delivered; ward staff confirm what arrived. Both steps are register
    lines (区分「納品」); the row holds the state the pages show.
    """

    __tablename__ = "notice_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    delivered_on: Mapped[date]
    quantity: Mapped[int]
    content: Mapped[str] = mapped_column(String(300))
    delivered_by: Mapped[str] = mapped_column(String(200))  # the person who brought them, as the printer says
    recorded_by: Mapped[str] = mapped_column(String(200))  # the signed-in person who recorded it
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None]
    confirmed_quantity: Mapped[int | None]

    contract: Mapped[Contract] = relationship()
