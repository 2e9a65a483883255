"""lease fencing: every claim of an intake row or a duty carries a generation number

Revision ID: 0007_lease_fencing
Revises: 0006_login_throttles

``lease_generation`` is incremented by every claim (``exchange.leases``); every commit of the claimed work is
fenced on it (``UPDATE … WHERE id = ? AND lease_owner = ? AND lease_generation = ?``), so a holder whose lease
lapsed can no longer commit after another claim took the row over. Existing rows start at 0; a lease held while
upgrading is simply not fenced against the one claim before it (the hub is stopped to upgrade).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_lease_fencing"
down_revision = "0006_login_throttles"
branch_labels = None
depends_on = None

TABLES = ("intake_files", "duty_states")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_generation", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_generation")
