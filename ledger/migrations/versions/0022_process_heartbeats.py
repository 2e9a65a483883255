"""process heartbeats: each running hub process's roles, last beat and loop states

Revision ID: 0022_process_heartbeats
Revises: 0020_document_blobs

Issue 15: ``handover serve --role web|worker|scheduler`` splits the hub over processes, and a worker or scheduler
has no listener to probe. Each process writes one ``process_heartbeats`` row while it runs and ``handover health``
reads them. Nothing to carry over: the rows describe processes running now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_process_heartbeats"
down_revision = "0020_document_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_beat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_heartbeats")),
        sa.UniqueConstraint("process_key", name=op.f("uq_process_heartbeats_process_key")),
    )
    with op.batch_alter_table("process_heartbeats") as batch:
        batch.create_index(batch.f("ix_process_heartbeats_last_beat"), ["last_beat"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("process_heartbeats") as batch:
        batch.drop_index(batch.f("ix_process_heartbeats_last_beat"))
    op.drop_table("process_heartbeats")
