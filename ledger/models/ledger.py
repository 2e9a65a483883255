"""The append-only ledger: one row per Merkle leaf, the queue of lines waiting for their index, the checkpoints,
the hash tiles.

Rows of ``ledger_entries`` and ``ledger_checkpoints`` are never updated or deleted (the migration installs triggers
that refuse it); ``ledger.tlog`` is the only writer. A register line is first a ``ledger_queue`` row, written in
its step's transaction, and is moved into ``ledger_entries`` (and deleted from the queue) in one transaction by
the sequencer (``ledger.tlog.sequencing``). ``contract_id`` and ``package_id`` are public ids copied into the row
for lookups, deliberately without foreign keys: the ledger must outlive, and never block, the deletion of what it
records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, utcnow


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    # The 0-based leaf index: assigned by ledger.tlog.sequencing under its lock, never by the database.
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    contract_id: Mapped[str | None] = mapped_column(String(36), index=True)
    package_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerQueued(Base):
    """A line committed with its step but not yet given its index: the queue's order is the ledger's order."""

    __tablename__ = "ledger_queue"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's declarative form

    # AUTOINCREMENT on SQLite too, so an id is never reused after the sequencer empties the queue.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    kind: Mapped[str] = mapped_column(String(64))
    contract_id: Mapped[str | None] = mapped_column(String(36))
    package_id: Mapped[str | None] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTile(Base):
    """Up to 256 hashes of one level of the tree (C2SP tlog-tiles), written by ``ledger.tlog.tiles``.

    Derived from the entries and checked against them by a full verify; the partial tile at the right edge of
    each level is rewritten as the log grows, so this table is not append-only.
    """

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
