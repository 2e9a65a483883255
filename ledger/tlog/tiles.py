"""Stored interior hashes in the C2SP tlog-tiles layout, so proofs and roots read O(log n) rows.

A tile is up to 256 consecutive hashes of one level: level 0 holds leaf hashes, level ``L`` holds the hashes of
the perfect subtrees of ``256**L`` leaves (the roots of the full level ``L-1`` tiles). Tile ``n`` of level ``L``
holds hashes ``256n .. 256n+255`` of that level. Only full subtrees have a hash in a tile, so the tile at the
right edge of each level is partial: it is rewritten as it grows, and stays in the table once full.

Any node of the tree at any size up to the current one is a fold of at most one run of hashes per level, each
run inside one tile: :class:`TileReader` fetches those tiles in one query and combines them. Tiles are derived
data, written in the transaction that appends the leaves (:func:`record_leaves`) and compared with the leaves
by a full verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import Base
from ledger.models.ledger import LedgerTile
from ledger.tlog import store
from ledger.tlog.merkle import EMPTY_ROOT, HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_BYTES = TILE_WIDTH * HASH_SIZE

tiles: Table = Base.metadata.tables[LedgerTile.__tablename__]

_sha256 = hashlib.sha256

Tile = tuple[int, int, bytes]
"""``(level, index, hashes)``: the concatenated hashes of one tile."""


def split_hashes(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def perfect_roots(hashes: list[bytes], height: int) -> list[bytes]:
    """The roots of consecutive perfect subtrees of ``2**height`` of these hashes (the count is a multiple)."""
    for _ in range(height):
        pairs = iter(hashes)
        hashes = [_sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
    return hashes


def fold(pieces: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees given left to right, each smaller than the one before (RFC 9162 MTH)."""
    if not pieces:
        return EMPTY_ROOT
    acc = pieces[-1]
    for left in reversed(pieces[:-1]):
        acc = _sha256(b"\x01" + left + acc).digest()
    return acc


def edge_keys(size: int) -> list[tuple[int, int, int]]:
    """``(level, tile index, width)`` of each partial tile of a log of ``size`` leaves."""
    keys = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            keys.append((level, count >> TILE_HEIGHT, count % TILE_WIDTH))
        level += 1
    return keys


class TileBuilder:
    """The tiles of a log fed its leaf hashes in order, from a known right edge; memory is one tile per level."""

    def __init__(self, size: int = 0, edge: list[list[bytes]] | None = None) -> None:
        self.size = size
        # edge[L]: the hashes of level L's partial tile (full subtrees to the right of every full tile).
        self.edge: list[list[bytes]] = edge if edge is not None else []
        # Roots of aligned runs inside each level's partial tile, by (offset, height): they stay the same while
        # the tile grows, so a verify that asks for the root at every checkpoint hashes each run once.
        self._runs: dict[tuple[int, int, int], bytes] = {}

    def add(self, leaf_hashes: Sequence[bytes]) -> list[Tile]:
        """Feed leaf hashes; return the tiles they complete, lower levels first, each level in index order."""
        done: list[Tile] = []
        pending, level, before = list(leaf_hashes), 0, self.size
        self.size += len(pending)
        while pending:
            if len(self.edge) == level:
                self.edge.append([])
            current = self.edge[level]
            first_tile = (before >> (TILE_HEIGHT * level)) >> TILE_HEIGHT
            current.extend(pending)
            full = len(current) // TILE_WIDTH * TILE_WIDTH
            if not full:
                break
            done.extend(
                (level, first_tile + n, b"".join(current[start : start + TILE_WIDTH]))
                for n, start in enumerate(range(0, full, TILE_WIDTH))
            )
            # Tile boundaries are aligned, so pairing the whole run at once never pairs across two tiles.
            pending = perfect_roots(current[:full], TILE_HEIGHT)
            del current[:full]
            self._runs = {key: h for key, h in self._runs.items() if key[0] != level}
            level += 1
        return done

    def partial(self) -> list[Tile]:
        """The non-empty partial tile of each level."""
        return [
            (level, (self.size >> (TILE_HEIGHT * level)) >> TILE_HEIGHT, b"".join(hashes))
            for level, hashes in enumerate(self.edge)
            if hashes
        ]

    def root(self) -> bytes:
        """The root of the tree over every leaf fed so far."""
        pieces: list[bytes] = []
        for level in reversed(range(len(self.edge))):
            hashes, start = self.edge[level], 0
            for bit in reversed(range(TILE_HEIGHT)):
                if len(hashes) >> bit & 1:
                    key = (level, start, bit)
                    root = self._runs.get(key)
                    if root is None:
                        root = self._runs[key] = perfect_roots(hashes[start : start + (1 << bit)], bit)[0]
                    pieces.append(root)
                    start += 1 << bit
        return fold(pieces)


def _pieces(hashes: Sequence[bytes], start: int, count: int) -> list[bytes]:
    """Roots of the perfect subtrees that ``count`` hashes from ``start`` (aligned) decompose into, largest first."""
    pieces = []
    for bit in reversed(range(TILE_HEIGHT)):
        if count >> bit & 1:
            pieces.append(perfect_roots(list(hashes[start : start + (1 << bit)]), bit)[0])
            start += 1 << bit
    return pieces


def _runs(lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Leaf range ``[lo, hi)`` of a tree node as ``(level, first hash, count)`` runs, left to right.

    A node of the RFC 9162 tree at any size is ``[lo, hi)`` with ``lo`` aligned to the power of two at or above
    its width, so it decomposes into perfect subtrees by the bits of ``hi - lo``, and those of heights
    ``8L .. 8L+7`` are consecutive level-``L`` hashes inside one tile.
    """
    runs = []
    width, position = hi - lo, lo
    for level in reversed(range((max(width, 1).bit_length() + TILE_HEIGHT - 1) // TILE_HEIGHT)):
        count = (width >> (TILE_HEIGHT * level)) & (TILE_WIDTH - 1)
        if count:
            runs.append((level, position >> (TILE_HEIGHT * level), count))
            position += count << (TILE_HEIGHT * level)
    return runs


class TileReader:
    """Hashes of tree nodes at any size up to the log's, from the few tiles they need.

    Tiles read once are kept (``loaded``) for the reader's life, which is one proof or one signing: the right
    edge at a size is among the tiles its root needs, so a later :func:`load_edge` reads nothing more.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.loaded: dict[tuple[int, int], bytes] = {}
        self._tried: set[tuple[int, int]] = set()

    async def range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """MTH of each leaf range (each a node of the tree at some size), in the order given."""
        runs = [_runs(lo, hi) for lo, hi in ranges]
        loaded = await self._load({(level, first >> TILE_HEIGHT) for node in runs for level, first, _ in node})
        results = []
        for node in runs:
            pieces: list[bytes] = []
            for level, first, count in node:
                tile, offset = first >> TILE_HEIGHT, first % TILE_WIDTH
                blob = loaded.get((level, tile), b"")
                if len(blob) < (offset + count) * HASH_SIZE:
                    raise store.LedgerIntegrityError(
                        f"tile {tile} of level {level} holds {len(blob) // HASH_SIZE} hashes, fewer than the log "
                        "needs; run verify"
                    )
                pieces.extend(_pieces(split_hashes(blob[offset * HASH_SIZE : (offset + count) * HASH_SIZE]), 0, count))
            results.append(fold(pieces))
        return results

    async def _load(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored tiles among ``keys`` (a missing one is absent), reading only those not read before."""
        wanted = sorted(set(keys) - self._tried)
        if wanted:
            self._tried.update(wanted)
            condition = or_(*(and_(tiles.c.level == level, tiles.c.idx == idx) for level, idx in wanted))
            rows = await self.session.execute(select(tiles.c.level, tiles.c.idx, tiles.c.hashes).where(condition))
            self.loaded.update({(level, idx): hashes for level, idx, hashes in rows})
        return self.loaded


async def load_edge(
    session: AsyncSession, size: int, reader: TileReader | None = None
) -> tuple[TileBuilder, set[tuple[int, int]]]:
    """A builder standing at ``size`` leaves, its right edge read from the stored partial tiles; which are stored.

    A partial tile with fewer hashes than ``size`` needs (the entries table was edited behind the ledger's
    back) is rebuilt from the level below: leaf hashes from the entries, or the full tiles of the level below.
    """
    keys = edge_keys(size)
    loaded = await (reader or TileReader(session))._load((level, idx) for level, idx, _ in keys)
    edge: list[list[bytes]] = [[] for _ in range(max((level for level, _, _ in keys), default=-1) + 1)]
    for level, idx, width in keys:
        # A tile read after the log grew past ``size`` holds more hashes: those at ``size`` are its first ones.
        blob = loaded.get((level, idx), b"")[: width * HASH_SIZE]
        if len(blob) != width * HASH_SIZE:
            blob = await _rebuild(session, level, idx, width)
        edge[level] = split_hashes(blob)
    return TileBuilder(size, edge), {(level, idx) for level, idx, _ in keys if (level, idx) in loaded}


async def _rebuild(session: AsyncSession, level: int, idx: int, width: int) -> bytes:
    """The first ``width`` hashes of tile ``idx`` of ``level``, from the entries (level 0) or the level below.

    A hash whose source is missing (the log has a gap: its tables were edited) is left as zeros rather than
    refusing the append: verify names the gap, and no proof across it verifies.
    """
    first = idx * TILE_WIDTH
    source = (
        select(store.entries.c.idx, store.entries.c.leaf_hash).where(
            store.entries.c.idx.between(first, first + width - 1)
        )
        if level == 0
        else select(tiles.c.idx, tiles.c.hashes).where(
            tiles.c.level == level - 1, tiles.c.idx.between(first, first + width - 1)
        )
    )
    found = {row[0]: row[1] for row in await session.execute(source)}
    hashes = []
    for position in range(first, first + width):
        blob = found.get(position, b"")
        if level > 0 and len(blob) == TILE_BYTES:
            blob = perfect_roots(split_hashes(blob), TILE_HEIGHT)[0]
        hashes.append(blob if len(blob) == HASH_SIZE else bytes(HASH_SIZE))
    return b"".join(hashes)


async def record_leaves(session: AsyncSession, start: int, leaf_hashes: Sequence[bytes]) -> None:
    """Store the tiles that the leaves ``start, start+1, …`` with these hashes change.

    Call it in the transaction that inserts those entries, under the lock that handed out their indices, so
    tile writes are serialised like the indices and commit or roll back with the entries.
    """
    if not leaf_hashes:
        return
    builder, existing = await load_edge(session, start)
    written = builder.add(leaf_hashes) + builder.partial()
    updates = [t for t in written if (t[0], t[1]) in existing]
    inserts = [{"level": t[0], "idx": t[1], "hashes": t[2]} for t in written if (t[0], t[1]) not in existing]
    for level, idx, blob in updates:
        await session.execute(update(tiles).where(tiles.c.level == level, tiles.c.idx == idx).values(hashes=blob))
    if inserts:
        await session.execute(insert(tiles), inserts)
