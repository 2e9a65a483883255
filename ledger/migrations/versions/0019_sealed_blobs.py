"""sealed blobs: uploads, quarantined drops and inspection attachments are kept in the blob store, by key

Revision ID: 0019_sealed_blobs
Revises: 0018_package_blobs

Issue 15: every sealed file lives in the blob store (``exchange.blobs``), so hub processes on different hosts
(different data directories, one database and one store) see the same files. The database keeps keys, never paths:

* ``inbound_files.stored_path`` becomes ``blob_key``: ``uploads/<public id>`` for every sealed row. A row from
  before sealing (``sealed`` false) keeps the absolute path of its plain file until the command below seals it;
* ``intake_files.sealed_path`` becomes ``sealed_key``: ``quarantine/<public id>`` where a sealed copy was kept;
* ``inspections.attachment_path`` becomes ``attachment_key``: ``attachments/<public id>/<16 hex digits of the
  SHA-256>``.

The files themselves are not moved here: a migration sees only the database (not the data directory, the master
key or a bucket). After this upgrade, run ``handover db move-sealed-files`` once on the host whose data directory
holds them; it puts every file a row (or a contract's reference extract) names into the store and removes the old
copy, and may be run again (what is already in the store is skipped). Until then those files read as missing.

Downgrade restores the column names and the old relative paths of uploads; blobs stay in the store.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_sealed_blobs"
down_revision = "0018_package_blobs"
branch_labels = None
depends_on = None

_inbound = sa.table(
    "inbound_files",
    sa.column("public_id", sa.String),
    sa.column("contract_id", sa.Integer),
    sa.column("sealed", sa.Boolean),
    sa.column("stored_path", sa.String),
    sa.column("blob_key", sa.String),
)
_contracts = sa.table("contracts", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
_intakes = sa.table(
    "intake_files",
    sa.column("public_id", sa.String),
    sa.column("sealed_path", sa.String),
    sa.column("sealed_key", sa.String),
)
_inspections = sa.table(
    "inspections",
    sa.column("public_id", sa.String),
    sa.column("attachment_path", sa.Text),
    sa.column("attachment_key", sa.String),
    sa.column("attachment_sha256", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("inbound_files") as batch:
        batch.alter_column("stored_path", new_column_name="blob_key", existing_type=sa.String(length=2000))
    op.execute(
        _inbound.update()
        .where(_inbound.c.sealed == sa.true())
        .values(blob_key=sa.literal("uploads/") + _inbound.c.public_id)
    )
    with op.batch_alter_table("intake_files") as batch:
        batch.alter_column(
            "sealed_path",
            new_column_name="sealed_key",
            existing_type=sa.String(length=2000),
            type_=sa.String(length=300),
            existing_nullable=True,
        )
    op.execute(
        _intakes.update()
        .where(_intakes.c.sealed_key.is_not(None))
        .values(sealed_key=sa.literal("quarantine/") + _intakes.c.public_id)
    )
    with op.batch_alter_table("inspections") as batch:
        batch.alter_column(
            "attachment_path",
            new_column_name="attachment_key",
            existing_type=sa.Text(),
            type_=sa.String(length=300),
            existing_nullable=True,
        )
    op.execute(
        _inspections.update()
        .where(_inspections.c.attachment_key.is_not(None))
        .values(
            attachment_key=sa.literal("attachments/")
            + _inspections.c.public_id
            + "/"
            + sa.func.substr(_inspections.c.attachment_sha256, 1, 16)
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("inspections") as batch:
        batch.alter_column(
            "attachment_key",
            new_column_name="attachment_path",
            existing_type=sa.String(length=300),
            type_=sa.Text(),
            existing_nullable=True,
        )
    with op.batch_alter_table("intake_files") as batch:
        batch.alter_column(
            "sealed_key",
            new_column_name="sealed_path",
            existing_type=sa.String(length=300),
            type_=sa.String(length=2000),
            existing_nullable=True,
        )
    with op.batch_alter_table("inbound_files") as batch:
        batch.alter_column("blob_key", new_column_name="stored_path", existing_type=sa.String(length=2000))
    contract = sa.select(_contracts.c.public_id).where(_contracts.c.id == _inbound.c.contract_id).scalar_subquery()
    op.execute(
        _inbound.update()
        .where(_inbound.c.sealed == sa.true())
        .values(stored_path=sa.literal("inbound/") + contract + "/" + _inbound.c.public_id + ".sealed")
    )
