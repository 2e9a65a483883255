"""document blobs: the hub's deletion certificate files live in the blob store, named by keys in the row

Revision ID: 0020_document_blobs
Revises: 0019_sealed_blobs

Until now the JSON, signature and PDF of an issued hub deletion certificate were files under
``DATA_DIR/certificates/<number>.*``, which only the host that wrote them could serve. They now live in the blob
store under ``certificates/<public id>.json|sig|pdf``; the row records each key and the SHA-256 of the bytes
stored, so every hub process sharing the database and the store serves (and checks) the same files.

Existing rows are carried as they are, with NULL keys: those files are derived from the row (the JSON and the
signature are its ``document`` and ``signature``; the PDF is rendered from it), so the next retention sweep, or
``handover certificates export`` at once, writes them into the store and records their keys. The old folder is
no longer read; an operator may delete it after that export.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_document_blobs"
down_revision = "0019_sealed_blobs"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("json_key", 300),
    ("json_sha256", 64),
    ("sig_key", 300),
    ("sig_sha256", 64),
    ("pdf_key", 300),
    ("pdf_sha256", 64),
)


def upgrade() -> None:
    with op.batch_alter_table("hub_deletion_certificates") as batch:
        for name, length in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_deletion_certificates") as batch:
        for name, _length in reversed(_COLUMNS):
            batch.drop_column(name)
