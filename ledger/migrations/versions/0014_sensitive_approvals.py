"""sensitive approvals: the ward's approvals for forbidden-category items per contract; value screening per route

Revision ID: 0014_sensitive_approvals
Revises: 0013_oversight_records

C-07 lets a contractor receive an item of a forbidden category (宗教, 前科, 病歴 …) only with the ward's written
approval. ``sensitive_approvals`` holds each approval (document number, approver, date, the items it covers);
screening in the intake honours them. ``routes.scan_values`` turns on screening of cell values per route (off
for every existing route, as before). ``contracts.sensitive_items_approval_ref`` held a reference nothing read;
it is dropped, and a value it held is carried into an approval row with no items, so the reference is kept
but approves nothing until staff record what it covers.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0014_sensitive_approvals"
down_revision = "0013_oversight_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    approvals = op.create_table(
        "sensitive_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("document_ref", sa.String(length=200), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("approved_on", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_sensitive_approvals_contract_id_contracts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensitive_approvals")),
        sa.UniqueConstraint("public_id", name=op.f("uq_sensitive_approvals_public_id")),
    )
    op.create_index(op.f("ix_sensitive_approvals_contract_id"), "sensitive_approvals", ["contract_id"], unique=False)
    contracts = sa.table(
        "contracts",
        sa.column("id", sa.Integer()),
        sa.column("sensitive_items_approval_ref", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(contracts.c.id, contracts.c.sensitive_items_approval_ref, contracts.c.created_at).where(
            contracts.c.sensitive_items_approval_ref.is_not(None)
        )
    )
    now = dt.datetime.now(dt.UTC)
    carried = [
        {
            "public_id": str(uuid.uuid4()),
            "contract_id": contract_id,
            "document_ref": ref,
            "approver": "（移行前の記録）",
            "approved_on": (created_at or now).date(),
            "items": [],
            "recorded_by": "（移行前の記録）",
            "recorded_at": now,
        }
        for contract_id, ref, created_at in rows
    ]
    if carried:
        op.bulk_insert(approvals, carried)
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("sensitive_items_approval_ref")
    with op.batch_alter_table("routes") as batch:
        batch.add_column(sa.Column("scan_values", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("routes") as batch:
        batch.drop_column("scan_values")
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("sensitive_items_approval_ref", sa.String(length=200), nullable=True))
    op.drop_index(op.f("ix_sensitive_approvals_contract_id"), table_name="sensitive_approvals")
    op.drop_table("sensitive_approvals")
