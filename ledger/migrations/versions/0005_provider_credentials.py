"""provider credentials: LGWAN-ASP login details received out of band, password sealed (C-22)

Revision ID: 0005_provider_credentials
Revises: 0004_download_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_provider_credentials"
down_revision = "0004_download_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("page_url", sa.String(length=500), nullable=False),
        sa.Column("login_id", sa.String(length=200), nullable=False),
        sa.Column("sealed_password", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=True),
        sa.Column("rotate_every_days", sa.Integer(), nullable=False),
        sa.Column("rotate_due_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_credentials")),
        sa.UniqueConstraint("public_id", name=op.f("uq_provider_credentials_public_id")),
    )
    op.create_index(op.f("ix_provider_credentials_name"), "provider_credentials", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_credentials_name"), table_name="provider_credentials")
    op.drop_table("provider_credentials")
