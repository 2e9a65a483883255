"""handler download limits: each handler's copies of a package, against the contract's per-handler limit

Revision ID: 0009_handler_download_limits
Revises: 0008_package_copies

C-16 asks for download limits per package and per handler. ``contracts.download_limit_per_handler`` is the
ward's limit (NULL: only the package's own limit applies, as before); ``handler_download_counts`` holds one row
per package and person, counted by a conditional UPDATE like ``packages.download_count``. Nothing to carry over:
counts start at zero, and earlier downloads stay in the audit trail and the register.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_handler_download_limits"
down_revision = "0008_package_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("download_limit_per_handler", sa.Integer(), nullable=True))
    op.create_table(
        "handler_download_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_handler_download_counts_package_id_packages")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_handler_download_counts_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handler_download_counts")),
        sa.UniqueConstraint("package_id", "person_id", name=op.f("uq_handler_download_counts_package_id")),
    )
    with op.batch_alter_table("handler_download_counts") as batch:
        batch.create_index(batch.f("ix_handler_download_counts_package_id"), ["package_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handler_download_counts") as batch:
        batch.drop_index(batch.f("ix_handler_download_counts_package_id"))
    op.drop_table("handler_download_counts")
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("download_limit_per_handler")
