"""duties: scheduled duty leases, deletion certificates, returns, inspections, incidents

Revision ID: 0006_duties
Revises: 0005_registers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_duties"
down_revision = "0005_registers"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    with op.batch_alter_table("access_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_reviews_fiscal_year"), ["fiscal_year"], unique=False)

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
    with op.batch_alter_table("duty_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_runs_name"), ["name"], unique=False)

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
    with op.batch_alter_table("hub_deletion_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_deletion_certificates_status"), ["status"], unique=False)

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
    with op.batch_alter_table("access_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_findings_fiscal_year"), ["fiscal_year"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_findings_rule"), ["rule"], unique=False)

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
    with op.batch_alter_table("certificate_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_requests_party_id"), ["party_id"], unique=False)

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
    with op.batch_alter_table("duty_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_notices_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_notices_kind"), ["kind"], unique=False)

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
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_contract_id"), ["contract_id"], unique=False)

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
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspections_contract_id"), ["contract_id"], unique=False)

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
    with op.batch_alter_table("contractor_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contractor_certificates_request_id"), ["request_id"], unique=False)

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
    with op.batch_alter_table("contractor_certificate_packages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contractor_certificate_packages_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contractor_certificate_packages_package_id"), ["package_id"], unique=False)

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
    with op.batch_alter_table("expected_returns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expected_returns_contract_id"), ["contract_id"], unique=False)

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
    with op.batch_alter_table("hub_deletion_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_deletion_items_certificate_id"), ["certificate_id"], unique=False)

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
    with op.batch_alter_table("incident_packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_packages_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_packages_package_id"), ["package_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_packages_package_id"))
        batch_op.drop_index(batch_op.f("ix_incident_packages_incident_id"))

    op.drop_table("incident_packages")

    with op.batch_alter_table("hub_deletion_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_deletion_items_certificate_id"))

    op.drop_table("hub_deletion_items")

    with op.batch_alter_table("expected_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expected_returns_contract_id"))

    op.drop_table("expected_returns")

    with op.batch_alter_table("contractor_certificate_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contractor_certificate_packages_package_id"))
        batch_op.drop_index(batch_op.f("ix_contractor_certificate_packages_certificate_id"))

    op.drop_table("contractor_certificate_packages")

    with op.batch_alter_table("contractor_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contractor_certificates_request_id"))

    op.drop_table("contractor_certificates")

    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspections_contract_id"))

    op.drop_table("inspections")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_contract_id"))

    op.drop_table("incidents")

    with op.batch_alter_table("duty_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_notices_kind"))
        batch_op.drop_index(batch_op.f("ix_duty_notices_contract_id"))

    op.drop_table("duty_notices")

    with op.batch_alter_table("certificate_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_requests_party_id"))

    op.drop_table("certificate_requests")

    with op.batch_alter_table("access_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_findings_rule"))
        batch_op.drop_index(batch_op.f("ix_access_findings_fiscal_year"))

    op.drop_table("access_findings")

    with op.batch_alter_table("hub_deletion_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_deletion_certificates_status"))

    op.drop_table("hub_deletion_certificates")

    op.drop_table("duty_states")

    with op.batch_alter_table("duty_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_runs_name"))

    op.drop_table("duty_runs")

    with op.batch_alter_table("access_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_reviews_fiscal_year"))

    op.drop_table("access_reviews")
