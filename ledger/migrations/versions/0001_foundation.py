"""foundation

Revision ID: 0001_foundation
Revises:

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ward", "contractor", "subcontractor", name="partykind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("certifications", sa.JSON(), nullable=False),
        sa.Column("ip_allowlist", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("code", name=op.f("uq_parties_code")),
        sa.UniqueConstraint("public_id", name=op.f("uq_parties_public_id")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("plugin_settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("code", name=op.f("uq_programs_code")),
        sa.UniqueConstraint("public_id", name=op.f("uq_programs_public_id")),
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("allowed_items", sa.JSON(), nullable=False),
        sa.Column("collected_items", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("retention_days_after_receipt", sa.Integer(), nullable=False),
        sa.Column("retention_grace_days", sa.Integer(), nullable=False),
        sa.Column("password_delay_hours", sa.Integer(), nullable=False),
        sa.Column("download_limit", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_ref", sa.String(length=200), nullable=True),
        sa.Column("approval_revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sensitive_items_approval_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["contracts.id"], name=op.f("fk_contracts_parent_id_contracts")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_contracts_party_id_parties")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_contracts_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("code", name=op.f("uq_contracts_code")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contracts_public_id")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contracts_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_party_id"), ["party_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_program_id"), ["program_id"], unique=False)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_email", sa.String(length=254), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "staff",
                "manager",
                "handler",
                "compliance",
                "admin",
                name="personrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("section", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_people_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("code", name=op.f("uq_people_code")),
        sa.UniqueConstraint("public_id", name=op.f("uq_people_public_id")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_party_id"), ["party_id"], unique=False)

    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("watch_dir", sa.String(length=1000), nullable=False),
        sa.Column("quarantine_dir", sa.String(length=1000), nullable=False),
        sa.Column("processed_dir", sa.String(length=1000), nullable=True),
        sa.Column("force_polling", sa.Boolean(), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("allowed_file_types", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_routes_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
        sa.UniqueConstraint("code", name=op.f("uq_routes_code")),
        sa.UniqueConstraint("public_id", name=op.f("uq_routes_public_id")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routes_program_id"), ["program_id"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "staff",
                "manager",
                "handler",
                "compliance",
                "admin",
                name="personrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_accounts_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_accounts_login")),
        sa.UniqueConstraint("person_id", name=op.f("uq_accounts_person_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_accounts_public_id")),
    )
    op.create_table(
        "designations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("manager", "handler", name="designationrole", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("designated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_designations_contract_id_contracts")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_designations_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designations")),
        sa.UniqueConstraint("contract_id", "person_id", name="uq_designations_contract_person"),
    )
    with op.batch_alter_table("designations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_designations_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_designations_person_id"), ["person_id"], unique=False)

    op.create_table(
        "route_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("fallback_connector", sa.String(length=100), nullable=True),
        sa.Column("password_channels", sa.JSON(), nullable=False),
        sa.Column("drop_items", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_route_targets_contract_id_contracts")),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"], name=op.f("fk_route_targets_route_id_routes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_targets")),
        sa.UniqueConstraint("route_id", "contract_id", name="uq_route_targets_route_contract"),
    )
    with op.batch_alter_table("route_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_targets_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_route_targets_route_id"), ["route_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_web_sessions_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_account_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("route_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_targets_route_id"))
        batch_op.drop_index(batch_op.f("ix_route_targets_contract_id"))

    op.drop_table("route_targets")
    with op.batch_alter_table("designations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_designations_person_id"))
        batch_op.drop_index(batch_op.f("ix_designations_contract_id"))

    op.drop_table("designations")
    op.drop_table("accounts")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routes_program_id"))

    op.drop_table("routes")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_party_id"))

    op.drop_table("people")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_program_id"))
        batch_op.drop_index(batch_op.f("ix_contracts_party_id"))
        batch_op.drop_index(batch_op.f("ix_contracts_parent_id"))

    op.drop_table("contracts")
    op.drop_table("programs")
    op.drop_table("parties")
