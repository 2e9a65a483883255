"""return folders: the ward's folders for returned data, and the AES ZIPs delivered into them

Revision ID: 0017_return_folders
Revises: 0016_certificate_review

Issue 14: staff can have what contractors send back delivered into a folder on the ward's intranet as AES-256
ZIPs, the mirror of the watched folders. ``return_folders`` holds the setting (per contract or per section);
``return_deliveries`` one row per accepted upload written there, with the ZIP's password sealed for the
split-password rule. Nothing to carry over: earlier uploads were never delivered anywhere.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_return_folders"
down_revision = "0016_certificate_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "return_folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("section", sa.String(length=100), nullable=True),
        sa.Column("password_channels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_return_folders_contract_id_contracts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_folders")),
        sa.UniqueConstraint("code", name=op.f("uq_return_folders_code")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_return_folders_contract_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_return_folders_public_id")),
        sa.UniqueConstraint("section", name=op.f("uq_return_folders_section")),
    )
    op.create_table(
        "return_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("inbound_file_id", sa.Integer(), nullable=False),
        sa.Column("return_folder_id", sa.Integer(), nullable=False),
        sa.Column("zip_name", sa.String(length=300), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["people.id"], name=op.f("fk_return_deliveries_acknowledged_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"], ["inbound_files.id"], name=op.f("fk_return_deliveries_inbound_file_id_inbound_files")
        ),
        sa.ForeignKeyConstraint(
            ["return_folder_id"],
            ["return_folders.id"],
            name=op.f("fk_return_deliveries_return_folder_id_return_folders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_deliveries")),
        sa.UniqueConstraint("inbound_file_id", name=op.f("uq_return_deliveries_inbound_file_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_return_deliveries_public_id")),
    )
    with op.batch_alter_table("return_deliveries") as batch:
        batch.create_index(batch.f("ix_return_deliveries_return_folder_id"), ["return_folder_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("return_deliveries") as batch:
        batch.drop_index(batch.f("ix_return_deliveries_return_folder_id"))
    op.drop_table("return_deliveries")
    op.drop_table("return_folders")
