"""ledger tiles: interior hashes of the ledger's Merkle tree in 256-hash tiles (C2SP tlog-tiles)

Revision ID: 0025_ledger_tiles
Revises: 0024_relative_route_folders

Issue 16: inclusion and consistency proofs and checkpoint signing read every leaf hash, which takes seconds at a
million entries. ``ledger_tiles`` keeps the hashes of each level of the tree (level 0: leaf hashes; level L: the
roots of the perfect subtrees of 256**L leaves), 256 to a row; ``ledger.tlog.tiles`` writes them as entries are
appended and reads the few a proof needs.

The upgrade fills the tiles of the existing log in one streaming pass over its leaf hashes (memory: one tile per
level plus one batch), so a hub upgraded with a long ledger proves at once. The code is kept here rather than
imported, so that this revision does what it did when it landed whatever ``ledger.tlog`` later becomes; a full
``handover ledger verify`` compares every tile with the entries.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0025_ledger_tiles"
down_revision = "0024_relative_route_folders"
branch_labels = None
depends_on = None

_WIDTH = 256
_BATCH = 50_000

_entries = sa.table("ledger_entries", sa.column("idx", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary()))
_tiles = sa.table(
    "ledger_tiles",
    sa.column("level", sa.SmallInteger()),
    sa.column("idx", sa.BigInteger()),
    sa.column("hashes", sa.LargeBinary()),
)


def _subtree_roots(hashes: list[bytes]) -> list[bytes]:
    """The roots of each run of 256 hashes (tile boundaries are aligned, so pairs never cross one)."""
    sha256 = hashlib.sha256
    for _ in range(8):
        pairs = iter(hashes)
        hashes = [sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
    return hashes


def _backfill() -> None:
    bind = op.get_bind()
    edge: list[list[bytes]] = []  # edge[L]: hashes of level L's tile still filling up
    filled: list[int] = []  # filled[L]: full tiles written at level L
    last = -1
    while True:
        query = sa.select(_entries.c.idx, _entries.c.leaf_hash).where(_entries.c.idx > last)
        rows = bind.execute(query.order_by(_entries.c.idx).limit(_BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        pending, level, done = [row[1] for row in rows], 0, []
        while pending:
            if len(edge) == level:
                edge.append([])
                filled.append(0)
            current = edge[level]
            current.extend(pending)
            full = len(current) // _WIDTH * _WIDTH
            if not full:
                break
            for start in range(0, full, _WIDTH):
                done.append({"level": level, "idx": filled[level], "hashes": b"".join(current[start : start + _WIDTH])})
                filled[level] += 1
            pending = _subtree_roots(current[:full])
            del current[:full]
            level += 1
        if done:
            bind.execute(sa.insert(_tiles), done)
    partial = [
        {"level": level, "idx": filled[level], "hashes": b"".join(hashes)}
        for level, hashes in enumerate(edge)
        if hashes
    ]
    if partial:
        bind.execute(sa.insert(_tiles), partial)


def upgrade() -> None:
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_tiles")),
    )
    _backfill()


def downgrade() -> None:
    op.drop_table("ledger_tiles")
