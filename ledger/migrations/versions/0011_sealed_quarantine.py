"""sealed quarantine: a refused drop is kept sealed under the data directory, and staff decide what happens to it

Revision ID: 0011_sealed_quarantine
Revises: 0010_inbound_checks

``intake_files.sealed_path`` is where the quarantined drop is kept, sealed (``exchange.keys.sealed_files``); NULL
for rows quarantined before this revision (their files stay in the route's quarantine folder, as before) and
once a sealed file was erased. ``resolution`` / ``resolved_at`` / ``resolved_by`` record the staff decision
(released or discarded); ``released_from_id`` links the intake a release made to the quarantined one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sealed_quarantine"
down_revision = "0010_inbound_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_files") as batch:
        batch.add_column(sa.Column("sealed_path", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("released_from_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_intake_files_released_from_id_intake_files"), "intake_files", ["released_from_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_files") as batch:
        batch.drop_constraint(batch.f("fk_intake_files_released_from_id_intake_files"), type_="foreignkey")
        batch.drop_column("released_from_id")
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
        batch.drop_column("resolution")
        batch.drop_column("sealed_path")
