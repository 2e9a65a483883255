"""Inclusion and consistency proofs (RFC 9162 section 2.1.3 and 2.1.4) and roots at any size, from the stored tiles.

Every node a proof names is the hash of a leaf range (``merkle.inclusion_ranges`` / ``consistency_ranges``);
``tiles.TileReader`` reads each from at most one tile per level, so a proof reads O(log n) rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.tlog import store
from ledger.tlog.merkle import consistency_ranges, inclusion_ranges, leaf_hash
from ledger.tlog.merkle import verify_consistency as _verify_consistency
from ledger.tlog.merkle import verify_inclusion as _verify_inclusion
from ledger.tlog.sequencing import settle
from ledger.tlog.tiles import TileReader


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    entry: bytes
    leaf_hash: bytes
    root_hash: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return self.leaf_hash == leaf_hash(self.entry) and _verify_inclusion(
            self.index, self.tree_size, self.leaf_hash, self.path, self.root_hash
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "entry": self.entry.decode("utf-8"),
            "leaf_hash": self.leaf_hash.hex(),
            "root_hash": self.root_hash.hex(),
            "path": [node.hex() for node in self.path],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return _verify_consistency(self.old_size, self.new_size, self.old_root, self.new_root, self.path)

    def as_dict(self) -> dict[str, object]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [node.hex() for node in self.path],
        }


async def _size(session: AsyncSession, size: int | None) -> int:
    current = await store.tree_size(session)
    if size is None:
        return current
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside the log's 0..{current}")
    return size


_ENTRY = select(
    store.entries.c.entry,
    store.entries.c.leaf_hash,
    select(func.max(store.entries.c.idx) + 1).scalar_subquery().label("size"),
)


async def prove_inclusion(session: AsyncSession, idx: int, tree_size: int | None = None) -> InclusionProof:
    """Inclusion proof of entry ``idx`` in the tree of ``tree_size`` entries (default: the whole log)."""
    # The entry and the log's size in one round trip: a proof is a few queries, and each costs more than its work.
    await settle(session)
    row = (await session.execute(_ENTRY.where(store.entries.c.idx == idx))).first()
    if row is None:
        inclusion_ranges(idx, await _size(session, tree_size))  # names an index outside the tree
        raise store.LedgerIntegrityError(f"index {idx} is missing; run verify")
    size = row.size if tree_size is None else tree_size
    if not 0 <= size <= row.size:
        raise ValueError(f"tree size {size} is outside the log's 0..{row.size}")
    ranges = inclusion_ranges(idx, size)
    *path, root = await TileReader(session).range_hashes([*ranges, (0, size)])
    return InclusionProof(idx, size, row.entry, row.leaf_hash, root, tuple(path))


async def prove_consistency(session: AsyncSession, old: int, new: int | None = None) -> ConsistencyProof:
    """Proof that the log at ``new`` entries (default: now) extends the log at ``old`` entries."""
    return await consistency_from(TileReader(session), old, await _size(session, new))


async def consistency_from(reader: TileReader, old: int, size: int) -> ConsistencyProof:
    """The consistency proof from ``old`` to ``size`` (at most the log's size), from ``reader``'s tiles."""
    ranges = consistency_ranges(old, size)
    *path, old_root, new_root = await reader.range_hashes([*ranges, (0, old), (0, size)])
    return ConsistencyProof(old, size, old_root, new_root, tuple(path))
