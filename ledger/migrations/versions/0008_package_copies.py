"""package copies: every other place a package may be kept, so retention deletes it too

Revision ID: 0008_package_copies
Revises: 0007_lease_fencing

A delivery whose answer was lost may have left the package at an endpoint although the hub then delivered it
elsewhere (the fallback). ``packages.location`` names only the delivered copy; ``other_copies`` lists the
others as ``{"connector", "folder", "location"}`` (``location`` null when the endpoint never said where). Null
for every existing package: nothing else was recorded before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_package_copies"
down_revision = "0007_lease_fencing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("packages", sa.Column("other_copies", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("packages") as batch:
        batch.drop_column("other_copies")
