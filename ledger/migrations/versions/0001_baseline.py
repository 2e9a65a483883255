"""baseline: the whole schema as one revision

Revision ID: 0001_baseline
Revises:

The six revisions written while the schema took shape were squashed into this one before any database outside
tests existed. From here on revisions are append-only: this file is frozen (``ledger/migrations/frozen.json``).

The two ledger tables get triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so that rewriting
history takes a deliberate schema change by the database owner, not a stray statement from the application.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

LEDGER_TABLES = ("ledger_entries", "ledger_checkpoints")

PG_FUNCTION = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""

# Every table in creation order; the downgrade drops them in reverse, so no foreign key is left dangling.
TABLES = (
    "parties",
    "programs",
    "contracts",
    "people",
    "routes",
    "accounts",
    "designations",
    "route_targets",
    "web_sessions",
    "ledger_entries",
    "ledger_checkpoints",
    "intake_files",
    "packages",
    "password_releases",
    "audit_events",
    "inbound_files",
    "api_tokens",
    "invitations",
    "login_attempts",
    "totp_factors",
    "login_challenges",
    "media",
    "print_logs",
    "print_log_rows",
    "print_findings",
    "access_reviews",
    "duty_runs",
    "duty_states",
    "hub_deletion_certificates",
    "access_findings",
    "certificate_requests",
    "duty_notices",
    "incidents",
    "inspections",
    "contractor_certificates",
    "contractor_certificate_packages",
    "expected_returns",
    "hub_deletion_items",
    "incident_packages",
)


def upgrade() -> None:
    _parties_contracts_accounts()
    _ledger()
    _intake_and_packages()
    _portal()
    _registers()
    _duties()


def _parties_contracts_accounts() -> None:
    """Parties, people, programs, contracts, routes, accounts and web sessions."""
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
    op.create_index(op.f("ix_contracts_parent_id"), "contracts", ["parent_id"])
    op.create_index(op.f("ix_contracts_party_id"), "contracts", ["party_id"])
    op.create_index(op.f("ix_contracts_program_id"), "contracts", ["program_id"])

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
    op.create_index(op.f("ix_people_party_id"), "people", ["party_id"])

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
    op.create_index(op.f("ix_routes_program_id"), "routes", ["program_id"])

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
    op.create_index(op.f("ix_designations_contract_id"), "designations", ["contract_id"])
    op.create_index(op.f("ix_designations_person_id"), "designations", ["person_id"])

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
    op.create_index(op.f("ix_route_targets_contract_id"), "route_targets", ["contract_id"])
    op.create_index(op.f("ix_route_targets_route_id"), "route_targets", ["route_id"])

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
    op.create_index(op.f("ix_web_sessions_account_id"), "web_sessions", ["account_id"])


def _ledger() -> None:
    """The append-only Merkle log and its signed checkpoints, guarded by triggers."""
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=True),
        sa.Column("package_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_kind"), "ledger_entries", ["kind"])
    op.create_index(op.f("ix_ledger_entries_contract_id"), "ledger_entries", ["contract_id"])
    op.create_index(op.f("ix_ledger_entries_package_id"), "ledger_entries", ["package_id"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_index(op.f("ix_ledger_checkpoints_tree_size"), "ledger_checkpoints", ["tree_size"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
            )
    else:
        for table in LEDGER_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: {action} refused'); END"
                )


def _intake_and_packages() -> None:
    """Files taken in, the packages made from them, and password release decisions."""
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
    op.create_index(op.f("ix_intake_files_route_id"), "intake_files", ["route_id"])
    op.create_index(op.f("ix_intake_files_status"), "intake_files", ["status"])
    op.create_index(
        "uq_intake_files_active_path",
        "intake_files",
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
    op.create_index(op.f("ix_packages_contract_id"), "packages", ["contract_id"])
    op.create_index(op.f("ix_packages_intake_id"), "packages", ["intake_id"])
    op.create_index(op.f("ix_packages_status"), "packages", ["status"])

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
    op.create_index(op.f("ix_password_releases_package_id"), "password_releases", ["package_id"])


def _portal() -> None:
    """Second factors, invitations, login throttling, API tokens, inbound files and the audit log."""
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_account_id"), "audit_events", ["account_id"])
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_table(
        "inbound_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("stored_path", sa.String(length=2000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_inbound_files_contract_id_contracts")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_inbound_files_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_files")),
        sa.UniqueConstraint("public_id", name=op.f("uq_inbound_files_public_id")),
    )
    op.create_index(op.f("ix_inbound_files_contract_id"), "inbound_files", ["contract_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_api_tokens_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_tokens_public_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_account_id"), "api_tokens", ["account_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_invitations_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invitations_code_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_invitations_public_id")),
    )
    op.create_index(op.f("ix_invitations_account_id"), "invitations", ["account_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_login_attempts_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_account_at", "login_attempts", ["account_id", "at"])
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["source_ip", "at"])
    op.create_table(
        "totp_factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_totp_factors_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_factors")),
        sa.UniqueConstraint("account_id", name=op.f("uq_totp_factors_account_id")),
    )
    op.create_table(
        "login_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("pending_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_login_challenges_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["invitations.id"], name=op.f("fk_login_challenges_invitation_id_invitations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_challenges_token_hash")),
    )
    op.create_index(op.f("ix_login_challenges_account_id"), "login_challenges", ["account_id"])


def _registers() -> None:
    """DVD media, print logs and their findings."""
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


def _duties() -> None:
    """Scheduled duty leases, deletion certificates, returns, inspections, incidents, access reviews."""
    op.create_table(
        "access_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("findings_reviewed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_reviews")),
    )
    op.create_index(op.f("ix_access_reviews_fiscal_year"), "access_reviews", ["fiscal_year"])

    op.create_table(
        "duty_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_runs")),
    )
    op.create_index(op.f("ix_duty_runs_name"), "duty_runs", ["name"])

    op.create_table(
        "duty_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_states")),
        sa.UniqueConstraint("name", name=op.f("uq_duty_states_name")),
    )

    op.create_table(
        "hub_deletion_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "issued", name="hubcertificatestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("signature", sa.String(length=200), nullable=True),
        sa.Column("vkey", sa.String(length=300), nullable=True),
        sa.Column("validated_by", sa.String(length=200), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("validation_comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_deletion_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_hub_deletion_certificates_number")),
        sa.UniqueConstraint("public_id", name=op.f("uq_hub_deletion_certificates_public_id")),
    )
    op.create_index(op.f("ix_hub_deletion_certificates_status"), "hub_deletion_certificates", ["status"])

    op.create_table(
        "access_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=50), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("summary_ja", sa.Text(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_id"], ["access_reviews.id"], name=op.f("fk_access_findings_review_id_access_reviews")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_access_findings_key")),
    )
    op.create_index(op.f("ix_access_findings_fiscal_year"), "access_findings", ["fiscal_year"])
    op.create_index(op.f("ix_access_findings_rule"), "access_findings", ["rule"])

    op.create_table(
        "certificate_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_certificate_requests_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_certificate_requests_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_requests")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_certificate_requests_contract_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_certificate_requests_public_id")),
    )
    op.create_index(op.f("ix_certificate_requests_party_id"), "certificate_requests", ["party_id"])

    op.create_table(
        "duty_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("occasion", sa.String(length=64), nullable=False),
        sa.Column(
            "audience",
            sa.Enum("contractor", "ward", name="noticeaudience", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("message_ja", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emailed_to", sa.JSON(), nullable=False),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_duty_notices_contract_id_contracts")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_duty_notices_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_notices")),
        sa.UniqueConstraint("kind", "subject_id", "occasion", name="uq_duty_notices_kind_subject_occasion"),
    )
    op.create_index(op.f("ix_duty_notices_contract_id"), "duty_notices", ["contract_id"])
    op.create_index(op.f("ix_duty_notices_kind"), "duty_notices", ["kind"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrongful_purpose", sa.Boolean(), nullable=False),
        sa.Column("preliminary_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("final_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("preliminary_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_incidents_contract_id_contracts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("public_id", name=op.f("uq_incidents_public_id")),
    )
    op.create_index(op.f("ix_incidents_contract_id"), "incidents", ["contract_id"])

    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("inspector", sa.String(length=200), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_inspections_contract_id_contracts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("contract_id", "fiscal_year", name="uq_inspections_contract_fiscal_year"),
        sa.UniqueConstraint("public_id", name=op.f("uq_inspections_public_id")),
    )
    op.create_index(op.f("ix_inspections_contract_id"), "inspections", ["contract_id"])

    op.create_table(
        "contractor_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "method",
            sa.Enum("clear", "purge", "destroy", name="erasuremethod", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("erased_on", sa.Date(), nullable=False),
        sa.Column("media", sa.String(length=300), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("verifier", sa.String(length=200), nullable=False),
        sa.Column("scan_path", sa.String(length=1000), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_contractor_certificates_party_id_parties")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["certificate_requests.id"],
            name=op.f("fk_contractor_certificates_request_id_certificate_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_certificates")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contractor_certificates_public_id")),
    )
    op.create_index(op.f("ix_contractor_certificates_request_id"), "contractor_certificates", ["request_id"])

    op.create_table(
        "contractor_certificate_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["contractor_certificates.id"],
            name=op.f("fk_contractor_certificate_packages_certificate_id_contractor_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_contractor_certificate_packages_package_id_packages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_certificate_packages")),
        sa.UniqueConstraint("certificate_id", "package_id", name="uq_contractor_certificate_packages_cert_package"),
    )
    op.create_index(
        op.f("ix_contractor_certificate_packages_certificate_id"), "contractor_certificate_packages", ["certificate_id"]
    )
    op.create_index(
        op.f("ix_contractor_certificate_packages_package_id"), "contractor_certificate_packages", ["package_id"]
    )

    op.create_table(
        "expected_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind", sa.Enum("media", "password_notice", name="returnkind", native_enum=False, length=20), nullable=False
        ),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by", sa.String(length=200), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_expected_returns_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], name=op.f("fk_expected_returns_package_id_packages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expected_returns")),
        sa.UniqueConstraint("public_id", name=op.f("uq_expected_returns_public_id")),
    )
    op.create_index(op.f("ix_expected_returns_contract_id"), "expected_returns", ["contract_id"])

    op.create_table(
        "hub_deletion_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copies", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["hub_deletion_certificates.id"],
            name=op.f("fk_hub_deletion_items_certificate_id_hub_deletion_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_hub_deletion_items_package_id_packages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_deletion_items")),
        sa.UniqueConstraint("package_id", name=op.f("uq_hub_deletion_items_package_id")),
    )
    op.create_index(op.f("ix_hub_deletion_items_certificate_id"), "hub_deletion_items", ["certificate_id"])

    op.create_table(
        "incident_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_removed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_packages_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(["package_id"], ["packages.id"], name=op.f("fk_incident_packages_package_id_packages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_packages")),
        sa.UniqueConstraint("incident_id", "package_id", name="uq_incident_packages_incident_package"),
    )
    op.create_index(op.f("ix_incident_packages_incident_id"), "incident_packages", ["incident_id"])
    op.create_index(op.f("ix_incident_packages_package_id"), "incident_packages", ["package_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes and triggers; only PostgreSQL's trigger function stands alone.
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_append_only()")
