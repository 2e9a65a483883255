"""intake identity: a dropped file is known by itself (device, inode, size, mtime, ctime), not only by its path

Revision ID: 0003_intake_identity
Revises: 0001_baseline

``source_identity`` is ``"device:inode:size:mtime_ns:ctime_ns"`` of the file as it was queued (ctime because a
rename changes it: a file moved back from quarantine is a new drop). The unique index on
(route, identity) is the guard that holds under concurrency on both databases: a stale listing of a drop that was
already taken in cannot queue it a second time, whatever the row's status. Manual intakes leave it NULL (NULLs
never collide), so an operator may pack the same file again on purpose.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_intake_identity"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_files") as batch:
        batch.add_column(sa.Column("source_identity", sa.String(length=200), nullable=True))
        batch.create_index("uq_intake_files_source_identity", ["route_id", "source_identity"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("intake_files") as batch:
        batch.drop_index("uq_intake_files_source_identity")
        batch.drop_column("source_identity")
