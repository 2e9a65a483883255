"""Merkle tree references to check against: the recursive definitions of RFC 9162, written literally, and the
streaming range hasher that built the database-backed log's proofs before it stored tiles."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.tlog.merkle import TreeHasher


# RFC 9162 §2.1.1 (the tree head), §2.1.3.1 (inclusion paths) and §2.1.4.1 (consistency proofs).
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


class RangeHasher:
    """Hashes disjoint leaf ranges while leaf hashes 0, 1, 2, … are fed to it once each, in order."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self._order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        self._ranges = ranges
        self._results: list[bytes | None] = [None] * len(ranges)
        self._next = 0
        self._position = 0
        self._current: TreeHasher | None = None
        # Leaves 0 .. needed-1 must be fed; later ones do not matter.
        self.needed = max((end for _, end in ranges), default=0)

    def add(self, leaf: bytes) -> None:
        position = self._position
        self._position += 1
        if self._next == len(self._order):
            return
        which = self._order[self._next]
        start, end = self._ranges[which]
        if position < start:
            return
        if self._current is None:
            self._current = TreeHasher()
        self._current.add(leaf)
        if position + 1 == end:
            self._results[which] = self._current.root()
            self._current = None
            self._next += 1

    def hashes(self) -> list[bytes]:
        """The range hashes, in the order the ranges were given."""
        if self._next != len(self._order):
            raise ValueError(f"only {self._position} of {self.needed} leaves were fed")
        return [h for h in self._results if h is not None]
