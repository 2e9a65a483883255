"""registers: DVD media, print logs and their findings

Revision ID: 0005_registers
Revises: 0004_portal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_registers"
down_revision = "0004_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.String(length=32), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("contents", sa.JSON(), nullable=False),
        sa.Column("image_size", sa.BigInteger(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("prepared_by", sa.String(length=200), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_by", sa.String(length=200), nullable=True),
        sa.Column("handed_to", sa.String(length=200), nullable=True),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_back_on", sa.Date(), nullable=True),
        sa.Column("returned_by", sa.String(length=200), nullable=True),
        sa.Column("received_by", sa.String(length=200), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_media_contract_id_contracts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("media_id", name=op.f("uq_media_media_id")),
    )
    op.create_index(op.f("ix_media_contract_id"), "media", ["contract_id"])

    op.create_table(
        "print_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_print_logs_contract_id_contracts")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_print_logs_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_logs")),
        sa.UniqueConstraint("contract_id", "sha256", name="uq_print_logs_contract_sha256"),
        sa.UniqueConstraint("public_id", name=op.f("uq_print_logs_public_id")),
    )
    op.create_index(op.f("ix_print_logs_contract_id"), "print_logs", ["contract_id"])
    op.create_index(op.f("ix_print_logs_party_id"), "print_logs", ["party_id"])

    op.create_table(
        "print_log_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("print_log_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("computer", sa.String(length=200), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.Column("printer", sa.String(length=200), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("package_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], name=op.f("fk_print_log_rows_package_id_packages")),
        sa.ForeignKeyConstraint(
            ["print_log_id"], ["print_logs.id"], name=op.f("fk_print_log_rows_print_log_id_print_logs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_log_rows")),
    )
    op.create_index(op.f("ix_print_log_rows_print_log_id"), "print_log_rows", ["print_log_id"])
    op.create_index(op.f("ix_print_log_rows_package_id"), "print_log_rows", ["package_id"])

    op.create_table(
        "print_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("print_log_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("duplicate", "unmatched", name="printfindingkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.Column("print_count", sa.Integer(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reason_by", sa.String(length=200), nullable=True),
        sa.Column("reason_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_print_findings_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["print_log_id"], ["print_logs.id"], name=op.f("fk_print_findings_print_log_id_print_logs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_findings")),
        sa.UniqueConstraint("public_id", name=op.f("uq_print_findings_public_id")),
    )
    op.create_index(op.f("ix_print_findings_print_log_id"), "print_findings", ["print_log_id"])
    op.create_index(op.f("ix_print_findings_contract_id"), "print_findings", ["contract_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_print_findings_contract_id"), table_name="print_findings")
    op.drop_index(op.f("ix_print_findings_print_log_id"), table_name="print_findings")
    op.drop_table("print_findings")
    op.drop_index(op.f("ix_print_log_rows_package_id"), table_name="print_log_rows")
    op.drop_index(op.f("ix_print_log_rows_print_log_id"), table_name="print_log_rows")
    op.drop_table("print_log_rows")
    op.drop_index(op.f("ix_print_logs_party_id"), table_name="print_logs")
    op.drop_index(op.f("ix_print_logs_contract_id"), table_name="print_logs")
    op.drop_table("print_logs")
    op.drop_index(op.f("ix_media_contract_id"), table_name="media")
    op.drop_table("media")
