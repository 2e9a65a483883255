"""packages

Revision ID: 0003_packages
Revises: 0002_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_packages"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("source_path", sa.String(length=2000), nullable=False),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "packed",
                "delivered",
                "finished",
                "quarantined",
                name="intakestatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_ja", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"], name=op.f("fk_intake_files_route_id_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_files")),
        sa.UniqueConstraint("public_id", name=op.f("uq_intake_files_public_id")),
    )
    with op.batch_alter_table("intake_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_files_route_id"), ["route_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_files_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_intake_files_active_path",
            ["route_id", "source_path"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'packed', 'delivered')"),
            postgresql_where=sa.text("status IN ('pending', 'packed', 'delivered')"),
        )

    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=True),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("route_target_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("sealed", "delivered", "failed", "deleted", name="packagestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("zip_name", sa.String(length=300), nullable=False),
        sa.Column("store_path", sa.String(length=2000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("delivered_via", sa.String(length=100), nullable=True),
        sa.Column("location", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("download_limit", sa.Integer(), nullable=False),
        sa.Column("download_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["people.id"], name=op.f("fk_packages_acknowledged_by_id_people")
        ),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_packages_contract_id_contracts")),
        sa.ForeignKeyConstraint(["intake_id"], ["intake_files.id"], name=op.f("fk_packages_intake_id_intake_files")),
        sa.ForeignKeyConstraint(
            ["route_target_id"], ["route_targets.id"], name=op.f("fk_packages_route_target_id_route_targets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_packages_public_id")),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_packages_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_packages_intake_id"), ["intake_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_packages_status"), ["status"], unique=False)

    op.create_table(
        "password_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], name=op.f("fk_password_releases_package_id_packages")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_password_releases_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_releases")),
    )
    with op.batch_alter_table("password_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_releases_package_id"), ["package_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_releases_package_id"))

    op.drop_table("password_releases")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_packages_status"))
        batch_op.drop_index(batch_op.f("ix_packages_intake_id"))
        batch_op.drop_index(batch_op.f("ix_packages_contract_id"))

    op.drop_table("packages")
    with op.batch_alter_table("intake_files", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_intake_files_active_path",
            sqlite_where=sa.text("status IN ('pending', 'packed', 'delivered')"),
            postgresql_where=sa.text("status IN ('pending', 'packed', 'delivered')"),
        )
        batch_op.drop_index(batch_op.f("ix_intake_files_status"))
        batch_op.drop_index(batch_op.f("ix_intake_files_route_id"))

    op.drop_table("intake_files")
