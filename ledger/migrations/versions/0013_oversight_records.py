"""oversight records: who recorded an inspection and its sealed report; incident filings, messages, closing, unfreezing

Revision ID: 0013_oversight_records
Revises: 0012_print_findings

C-19: an inspection names who recorded it, which party inspected (the ward, or a contractor inspecting its
sub-contractor) and the report file sealed under the hub's key. C-18: each PPC report keeps who filed it and its
reference; the ward's instructions and the contractor's answers are kept in order; an incident is closed, and a
package unfrozen, with who did it and why. Nothing to carry over: existing rows keep NULLs (not recorded then).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_oversight_records"
down_revision = "0012_print_findings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("recorded_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("inspected_by_party_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("attachment_name", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("attachment_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("attachment_sha256", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_inspections_inspected_by_party_id_parties"), "parties", ["inspected_by_party_id"], ["id"]
        )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("preliminary_reported_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("preliminary_reference", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("final_reported_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("final_reference", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reported_by_party_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("closing_note", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_incidents_reported_by_party_id_parties"), "parties", ["reported_by_party_id"], ["id"]
        )
    with op.batch_alter_table("incident_packages") as batch:
        batch.add_column(sa.Column("unfrozen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("unfrozen_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("unfreeze_reason", sa.Text(), nullable=True))
    op.create_table(
        "incident_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_messages_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_incident_messages_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_messages")),
    )
    with op.batch_alter_table("incident_messages") as batch:
        batch.create_index(batch.f("ix_incident_messages_incident_id"), ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_messages") as batch:
        batch.drop_index(batch.f("ix_incident_messages_incident_id"))
    op.drop_table("incident_messages")
    with op.batch_alter_table("incident_packages") as batch:
        for column in ("unfreeze_reason", "unfrozen_by", "unfrozen_at"):
            batch.drop_column(column)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint(batch.f("fk_incidents_reported_by_party_id_parties"), type_="foreignkey")
        for column in (
            "closing_note",
            "closed_by",
            "closed_at",
            "reported_by_party_id",
            "final_reference",
            "final_reported_by",
            "preliminary_reference",
            "preliminary_reported_by",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("inspections") as batch:
        batch.drop_constraint(batch.f("fk_inspections_inspected_by_party_id_parties"), type_="foreignkey")
        for column in (
            "attachment_sha256",
            "attachment_path",
            "attachment_name",
            "inspected_by_party_id",
            "recorded_by",
        ):
            batch.drop_column(column)
