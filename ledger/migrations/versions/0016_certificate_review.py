"""certificate review: NIST SP 800-88 App. G fields on contractors' certificates, the ward's accept/return, and the
access review's signed-in reviewer

Revision ID: 0016_certificate_review
Revises: 0014_sensitive_approvals

C-04: a contractor's 消去証明書 now records the method detail, the tool (and version), the verification method
and result, the media type and serial number; ward staff accept it or return it (差戻し) with a reason, and a
returned certificate stops covering its packages. Existing certificates have none of the new facts (NULL) and
count as submitted, not yet reviewed. C-11: an access review names the signed-in account and person that made it;
earlier reviews keep only their free-text name (NULL ids).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_certificate_review"
down_revision = "0014_sensitive_approvals"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = (
    ("method_detail", 300),
    ("tool", 300),
    ("verification_method", 300),
    ("verification_result", 300),
    ("media_type", 100),
    ("media_serial", 200),
)


def upgrade() -> None:
    with op.batch_alter_table("contractor_certificates") as batch:
        for name, length in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=True))
        batch.add_column(
            sa.Column(
                "review",
                sa.Enum("submitted", "accepted", "returned", name="certificatereview", native_enum=False, length=20),
                server_default="submitted",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("reviewed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
    with op.batch_alter_table("access_reviews") as batch:
        batch.add_column(sa.Column("reviewer_account_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reviewer_person_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_reviews") as batch:
        batch.drop_column("reviewer_person_id")
        batch.drop_column("reviewer_account_id")
    with op.batch_alter_table("contractor_certificates") as batch:
        for name in ("review_comment", "reviewed_at", "reviewed_by", "review"):
            batch.drop_column(name)
        for name, _length in reversed(_TEXT_COLUMNS):
            batch.drop_column(name)
