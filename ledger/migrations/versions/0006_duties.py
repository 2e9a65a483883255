"""duties: scheduled duty leases, deletion certificates, returns, inspections, incidents

Revision ID: 0006_duties
Revises: 0005_registers
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006_duties"
down_revision = "0005_registers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
