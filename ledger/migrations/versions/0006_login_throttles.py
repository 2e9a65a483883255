"""login throttles: lockout buckets counted atomically before a secret is checked

Revision ID: 0006_login_throttles
Revises: 0005_provider_credentials

One row per bucket (an account, a sign-in address, an API address) with its failure count, lock end and a
version for compare-and-set (``exchange.identity.lockout``). Nothing to carry over: the history in
``login_attempts`` stays as it is, and every bucket starts unlocked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_login_throttles"
down_revision = "0005_provider_credentials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("bucket", name=op.f("uq_login_throttles_bucket")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
