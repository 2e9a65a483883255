"""package blobs: a sealed package is named by its blob key, never by a path on one host

Revision ID: 0018_package_blobs
Revises: 0017_return_folders

Issue 15: packages live in the blob store (a local folder or a bucket), so a package packed on one host can be
downloaded through another that shares only the database and the store. ``packages.blob_key`` names the blob
(``packages/<public id>.zip``); ``store_path``, an absolute path on the packing host, is dropped.

Existing rows get the key their package has in the store. Their files are still in the old store folder
(``DATA_DIR/store/<intake>/claim-<n>/<public id>.zip``), which a migration cannot reach (it knows the database,
not where the blobs are kept): ``handover packages adopt-store`` moves them into the blob store, checking each
file against the package's recorded SHA-256. Until then such a package is refused for download with a reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_package_blobs"
down_revision = "0017_return_folders"
branch_labels = None
depends_on = None

_packages = sa.table(
    "packages",
    sa.column("public_id", sa.String()),
    sa.column("blob_key", sa.String()),
    sa.column("store_path", sa.String()),
)


def upgrade() -> None:
    op.add_column("packages", sa.Column("blob_key", sa.String(length=300), nullable=True))
    op.execute(
        sa.update(_packages).values(blob_key=sa.literal("packages/") + _packages.c.public_id + sa.literal(".zip"))
    )
    with op.batch_alter_table("packages") as batch:
        batch.alter_column("blob_key", existing_type=sa.String(length=300), nullable=False)
        batch.drop_column("store_path")


def downgrade() -> None:
    # The old column held an absolute path; the key is what is known now (the file lies in the blob store).
    op.add_column("packages", sa.Column("store_path", sa.String(length=2000), nullable=True))
    op.execute(sa.update(_packages).values(store_path=_packages.c.blob_key))
    with op.batch_alter_table("packages") as batch:
        batch.alter_column("store_path", existing_type=sa.String(length=2000), nullable=False)
        batch.drop_column("blob_key")
