"""print findings: page-count findings, and the printer's deliveries of sealed notices

Revision ID: 0012_print_findings
Revises: 0011_sealed_quarantine

``print_findings.detail`` says, for the new finding kind ``pages`` (stored as VARCHAR like the other kinds, so no
type change), how many pages were printed for how many records. ``notice_deliveries`` holds the printer's
deliveries of sealed notices (納品) and the ward's confirmation of each. Nothing to carry over: both are new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_print_findings"
down_revision = "0011_sealed_quarantine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("print_findings") as batch:
        batch.add_column(sa.Column("detail", sa.String(length=200), nullable=True))
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("content", sa.String(length=300), nullable=False),
        sa.Column("delivered_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_quantity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_notice_deliveries_contract_id_contracts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("public_id", name=op.f("uq_notice_deliveries_public_id")),
    )
    with op.batch_alter_table("notice_deliveries") as batch:
        batch.create_index(batch.f("ix_notice_deliveries_contract_id"), ["contract_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_deliveries") as batch:
        batch.drop_index(batch.f("ix_notice_deliveries_contract_id"))
    op.drop_table("notice_deliveries")
    with op.batch_alter_table("print_findings") as batch:
        batch.drop_column("detail")
