"""registers: DVD media, print logs and their findings

Revision ID: 0005_registers
Revises: 0004_portal
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0005_registers"
down_revision = "0004_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
