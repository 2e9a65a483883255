"""download sessions: the login occasion of every audit event

Revision ID: 0004_download_sessions
Revises: 0003_intake_identity

``audit_events.login_session`` keeps the login occasion a request came in (a hash of the portal session's stored
token hash, or of the API token's), so the split-password rule can refuse a password picked up in the very session
that downloaded the data (C-02). Nullable: earlier events, and events with no login (failed sign-ins, the command
line), have none. ``contracts.password_delay_zero_reason`` records why a contract has no delay before a password
(required by the import when ``password_delay_hours`` is 0).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_download_sessions"
down_revision = "0003_intake_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("login_session", sa.String(length=80), nullable=True))
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("password_delay_zero_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("password_delay_zero_reason")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("login_session")
