"""ledger queue: a register line commits with its step and gets its ledger index afterwards, by group commit

Revision ID: 0026_ledger_queue
Revises: 0025_ledger_tiles

Issue 16: every step took the ledger's index lock in its own transaction and held it until it committed, so all
steps that write a register line ran one at a time. Now a step writes its line into ``ledger_queue`` (no lock);
the sequencer (``ledger.tlog.sequencing``) moves queued lines into ``ledger_entries`` in id order, many per
transaction, under the index lock, deleting them from the queue in the same transaction. Nothing to carry over:
the queue starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_ledger_queue"
down_revision = "0025_ledger_tiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=True),
        sa.Column("package_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_queue")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    # A line still queued has committed with its step: give it its index before the queue goes.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM ledger_queue")).scalar_one():
        raise RuntimeError("ledger_queue still holds lines: run the hub (or `handover ledger verify`) to sequence them")
    op.drop_table("ledger_queue")
