"""inbound checks: contractor uploads sealed at rest, with a status, a reason, a record count and findings

Revision ID: 0010_inbound_checks
Revises: 0009_handler_download_limits

Uploads are now sealed (``exchange.keys.sealed_files``) under a path relative to the data directory. Rows that
exist already point at plain files by absolute path: they get ``sealed`` false (read as they are) and status
``received``, which is what they were. ``status`` holds 受領 / 隔離 / 隔離解除 / 破棄; ``reason_ja`` why an upload
was quarantined; ``records`` the data records of a tabular upload; ``findings`` what the program's plugin found
in returned records. ``contracts.upload_rules`` is the contract's accepted kinds, suffixes and size limit
(NULL: the hub's defaults).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_inbound_checks"
down_revision = "0009_handler_download_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_files") as batch:
        batch.add_column(sa.Column("sealed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "received",
                    "quarantined",
                    "released",
                    "discarded",
                    name="inboundstatus",
                    native_enum=False,
                    length=20,
                ),
                nullable=False,
                server_default="received",
            )
        )
        batch.add_column(sa.Column("reason_ja", sa.Text(), nullable=True))
        batch.add_column(sa.Column("records", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("findings", sa.JSON(), nullable=True))
        batch.create_index(batch.f("ix_inbound_files_status"), ["status"], unique=False)
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("upload_rules", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("upload_rules")
    with op.batch_alter_table("inbound_files") as batch:
        batch.drop_index(batch.f("ix_inbound_files_status"))
        batch.drop_column("findings")
        batch.drop_column("records")
        batch.drop_column("reason_ja")
        batch.drop_column("status")
        batch.drop_column("sealed")
