"""Inclusion and consistency proofs (RFC 9162 section 2.1.3 and 2.1.4) over the stored log, streamed from its rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.tlog import store
from ledger.tlog.merkle import RangeHasher, TreeHasher, consistency_ranges, inclusion_ranges, leaf_hash
from ledger.tlog.merkle import verify_consistency as _verify_consistency
from ledger.tlog.merkle import verify_inclusion as _verify_inclusion


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


async def prove_inclusion(session: AsyncSession, idx: int, tree_size: int | None = None) -> InclusionProof:
    """Inclusion proof of entry ``idx`` in the tree of ``tree_size`` entries (default: the whole log)."""
    size = await store.tree_size(session) if tree_size is None else tree_size
    ranges = RangeHasher(inclusion_ranges(idx, size))
    root = TreeHasher()
    leaf = b""
    async for position, node in store.leaf_hashes(session, size):
        ranges.add(node)
        root.add(node)
        if position == idx:
            leaf = node
    entry = await session.scalar(select(store.entries.c.entry).where(store.entries.c.idx == idx))
    if entry is None:
        raise store.LedgerIntegrityError(f"entry {idx} vanished while proving")
    return InclusionProof(idx, size, entry, leaf, root.root(), tuple(ranges.hashes()))


async def prove_consistency(session: AsyncSession, old: int, new: int | None = None) -> ConsistencyProof:
    """Proof that the log at ``new`` entries (default: now) extends the log at ``old`` entries."""
    size = await store.tree_size(session) if new is None else new
    ranges = RangeHasher(consistency_ranges(old, size))
    root = TreeHasher()
    old_root = root.root()
    async for _, node in store.leaf_hashes(session, size):
        ranges.add(node)
        root.add(node)
        if root.size == old:
            old_root = root.root()
    return ConsistencyProof(old, size, old_root, root.root(), tuple(ranges.hashes()))
