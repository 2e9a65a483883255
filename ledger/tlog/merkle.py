"""RFC 9162 (RFC 6962) Merkle tree hashing, inclusion and consistency proofs, and their verification.

Leaf hash ``SHA-256(0x00 ‖ entry)``, interior node ``SHA-256(0x01 ‖ left ‖ right)``; the tree over ``n``
leaves splits at the largest power of two smaller than ``n``; the empty tree's hash is ``SHA-256("")``.

Every node a proof contains is the hash of a contiguous, disjoint range of leaves, so the proofs are built in
two steps: :func:`inclusion_ranges` / :func:`consistency_ranges` say which ranges (in proof order), and the
database-backed log hashes each range from its stored tiles (``ledger.tlog.tiles``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeHasher:
    """Streaming Merkle tree hash: add leaf hashes in order, ask for the root at any size.

    The stack holds the roots of the perfect subtrees that make up the current size (one per set bit), so
    memory is O(log n) and each leaf costs amortised one node hash.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        stack = self._stack
        stack.append(leaf)
        n = self.size
        while n & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        it = reversed(self._stack)
        acc = next(it)
        for left in it:
            acc = _sha256(b"\x01" + left + acc).digest()
        return acc


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over the given leaf hashes."""
    hasher = TreeHasher()
    for leaf in leaf_hashes:
        hasher.add(leaf)
    return hasher.root()


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges ``[start, end)`` whose hashes form PATH(index, D[size]) (RFC 9162 §2.1.3.1), in order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    siblings: list[tuple[int, int]] = []
    lo, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            siblings.append((lo + k, lo + n))
            n = k
        else:
            siblings.append((lo, lo + k))
            lo, m, n = lo + k, m - k, n - k
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1), in order.

    Empty when ``old_size`` is 0 or equal to ``new_size``: every tree extends the empty one and itself.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    nodes: list[tuple[int, int]] = []
    lo, n, m, whole_old_tree = 0, new_size, old_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            nodes.append((lo + k, lo + n))
            n = k
        else:
            nodes.append((lo, lo + k))
            lo, m, n, whole_old_tree = lo + k, m - k, n - k, False
    if not whole_old_tree:
        nodes.append((lo, lo + n))
    nodes.reverse()
    return nodes


def _well_formed(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree of ``size`` with ``root``?"""
    if not 0 <= index < size or not _well_formed(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree (new_size, new_root) extends (old_size, old_root)?

    The RFC defines proofs for 0 < old_size < new_size; like transparency-dev/merkle we also accept an empty
    proof from the empty tree (old_root must be the empty-tree hash) and between two equal trees.
    """
    if not 0 <= old_size <= new_size or not _well_formed(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
