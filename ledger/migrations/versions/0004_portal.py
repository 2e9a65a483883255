"""portal: accounts' second factor, invitations, login throttling, API tokens, audit log

Revision ID: 0004_portal
Revises: 0003_packages
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_portal"
down_revision = "0003_packages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
