"""Verifying the whole log against its rows and checkpoints, and signing a new checkpoint of a verified log.

Integrity rests on checkpoints: a signed note (``ledger.tlog.checkpoint``) over the tree size and root. Row-level
faults (an entry edited without its hash, a missing index, a copied column that disagrees with the entry) are
named exactly; a consistent rewrite of entries and hashes shows only as a root that differs from a
checkpoint's, so it is located between the last checkpoint that still matches and the first that does not.
Every stored tile (``ledger.tlog.tiles``) must equal what the entries give: proofs and signing read them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.ledger import LedgerCheckpoint
from ledger.tlog.checkpoint import Checkpoint, NoteError, SigningKey, VerifierKey, open_note, sign_note
from ledger.tlog.proofs import consistency_from
from ledger.tlog.store import LedgerIntegrityError, checkpoints, entry_rows, tree_size
from ledger.tlog.tiles import TILE_HEIGHT, Tile, TileBuilder, TileReader, load_edge, split_hashes, tiles


@dataclass(frozen=True)
class VerifyResult:
    tree_size: int
    """Entries checked: the whole log when ``ok``, else the index where checking stopped."""
    root_hash: bytes
    checkpoints_checked: int
    first_bad_index: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.ok:
            return (
                f"ok: {self.tree_size} entries, root {self.root_hash.hex()}, "
                f"{self.checkpoints_checked} checkpoints match"
            )
        return f"FAILED at index {self.first_bad_index}: {self.problem}"


class _ColumnCheck:
    """Do the copied columns (kind, contract_id, package_id) say what the hashed entry says?

    Parsing a million entries would take most of verify's time budget. Keys are sorted, so an entry made by
    ``canonical_entry`` is ``{"at":"<27 chars>","contract_id":…,"data":{…},"kind":…,"package_id":…}`` and
    comparing its fixed-position prefix and its suffix is exact; only a mismatch is parsed, for the message.
    """

    _CONTRACT_AT = len('{"at":"2026-08-01T00:00:00.000000Z",')

    def __init__(self) -> None:
        self._encoded: dict[str | None, bytes] = {}

    def _json(self, value: str | None) -> bytes:
        encoded = self._encoded.get(value)
        if encoded is None:
            encoded = self._encoded[value] = json.dumps(value, ensure_ascii=False).encode("utf-8")
        return encoded

    def disagreement(self, entry: bytes, kind: str, contract_id: str | None, package_id: str | None) -> str | None:
        suffix = b',"kind":' + self._json(kind) + b',"package_id":' + self._json(package_id) + b"}"
        prefix = b'"contract_id":' + self._json(contract_id) + b',"data":'
        if entry.endswith(suffix) and entry.startswith(prefix, self._CONTRACT_AT):
            return None
        try:
            parsed = json.loads(entry)
        except ValueError:
            return "the entry is not JSON"
        for name, value in (("kind", kind), ("contract_id", contract_id), ("package_id", package_id)):
            if parsed.get(name) != value:
                return f"column {name} = {value!r} but the entry says {parsed.get(name)!r}"
        return "the entry is not in canonical form"

    def first(self, rows: Sequence[Sequence[Any]], count: int) -> tuple[int, str] | None:
        """The first of ``rows[:count]`` (``idx, entry, leaf_hash, kind, contract_id, package_id``) that disagrees."""
        at, last, prefix, suffix = self._CONTRACT_AT, None, b"", b""
        for i in range(count):
            row = rows[i]
            columns = (row[3], row[4], row[5])
            if columns != last:  # neighbouring entries mostly share kind and ids: build the expected bytes once
                kind, contract_id, package_id = last = columns
                suffix = b',"kind":' + self._json(kind) + b',"package_id":' + self._json(package_id) + b"}"
                prefix = b'"contract_id":' + self._json(contract_id) + b',"data":'
            entry = row[1]
            if entry.endswith(suffix) and entry.startswith(prefix, at):
                continue
            problem = self.disagreement(entry, *columns)
            if problem is not None:
                return i, problem
        return None


VERIFY_BATCH_ROWS = 20_000
StoredTiles = dict[tuple[int, int], bytes]


async def _fetch(session: AsyncSession, after: int, end: int | None) -> tuple[list[Sequence[Any]], StoredTiles]:
    """The next batch of rows, and every stored tile that the batch can complete."""
    rows = await entry_rows(session, after, end, VERIFY_BATCH_ROWS)
    if not rows:
        return rows, {}
    low, high, spans = max(rows[0][0], 0), rows[-1][0] + 1, []
    level = 0
    while high >> (TILE_HEIGHT * level):
        shift = TILE_HEIGHT * (level + 1)
        spans.append(and_(tiles.c.level == level, tiles.c.idx.between(low >> shift, high >> shift)))
        level += 1
    query = select(tiles.c.level, tiles.c.idx, tiles.c.hashes).where(or_(*spans))
    return rows, {(lv, idx): blob for lv, idx, blob in await session.execute(query)}


async def _stream(
    session: AsyncSession, start: int, end: int | None
) -> AsyncGenerator[tuple[list[Sequence[Any]], StoredTiles]]:
    """Batches from ``start``, the next one read while the caller checks this one (the database works meanwhile)."""
    fetch = asyncio.ensure_future(_fetch(session, start - 1, end))
    try:
        while True:
            rows, stored = await fetch
            if not rows:
                return
            if len(rows) < VERIFY_BATCH_ROWS or (end is not None and rows[-1][0] >= end - 1):
                yield rows, stored  # the last batch: no query for an empty one
                return
            fetch = asyncio.ensure_future(_fetch(session, rows[-1][0], end))
            yield rows, stored
    finally:
        # Never leave a query running on the session when the caller stops early.
        await asyncio.gather(fetch, return_exceptions=True)


class _Walk:
    """One pass over rows ``start, start+1, …``: leaves, copied columns, tree, checkpoints and stored tiles.

    Each batch is checked with whole-batch operations (one comprehension hashes its leaves, a list comparison
    finds the first wrong one), and only the rows before the first fault go into the tree, so checkpoints at
    sizes before the fault are still checked and the fault is named at its index.
    """

    def __init__(self, session: AsyncSession, builder: TileBuilder, pending: list[Any], verifier: VerifierKey | None):
        self.session, self.builder, self.pending, self.verifier = session, builder, pending, verifier
        self.checked, self.proven_up_to = 0, builder.size
        self.columns = _ColumnCheck()

    def fail(self, index: int, problem: str) -> VerifyResult:
        return VerifyResult(self.builder.size, self.builder.root(), self.checked, index, problem)

    def check_checkpoints(self) -> VerifyResult | None:
        builder = self.builder
        while self.pending and self.pending[0].tree_size == builder.size:
            checkpoint = self.pending.pop(0)
            if self.verifier is not None:
                try:
                    signed = open_note(checkpoint.note, self.verifier)
                except NoteError as exc:
                    return self.fail(self.proven_up_to, f"checkpoint #{checkpoint.id}: {exc}")
                if (signed.tree_size, signed.root_hash) != (checkpoint.tree_size, checkpoint.root_hash):
                    return self.fail(self.proven_up_to, f"checkpoint #{checkpoint.id}: note and row disagree")
            if builder.root() != checkpoint.root_hash:
                return self.fail(
                    self.proven_up_to,
                    f"root at size {builder.size} differs from checkpoint #{checkpoint.id}: an entry in "
                    f"[{self.proven_up_to}, {builder.size}) was changed, inserted, removed or reordered",
                )
            self.checked += 1
            self.proven_up_to = builder.size
        return None

    def batch(self, rows: Sequence[Sequence[Any]], stored_tiles: StoredTiles) -> VerifyResult | None:
        """Check one batch; a result means the walk stops there."""
        builder, sha256 = self.builder, hashlib.sha256
        first = builder.size
        fault: tuple[int, str] | None = None
        good = len(rows)
        if rows[0][0] != first or rows[-1][0] != first + good - 1:
            good = next(i for i, row in enumerate(rows) if row[0] != first + i)
            fault = (min(rows[good][0], first + good), f"expected index {first + good}, found {rows[good][0]}")
        leaves = [sha256(b"\x00" + row[1]).digest() for row in rows[:good]]
        stored = [row[2] for row in rows[:good]]
        if leaves != stored:
            good = next(i for i, (a, b) in enumerate(zip(leaves, stored, strict=True)) if a != b)
            fault = (first + good, "stored leaf hash does not match the entry")
        disagreement = self.columns.first(rows, good)
        if disagreement is not None:
            good, problem = disagreement
            fault = (first + good, problem)
        done: list[Tile] = []
        fed = 0
        while self.pending and self.pending[0].tree_size <= first + good:
            upto = self.pending[0].tree_size - first
            done += builder.add(leaves[fed:upto])
            fed = upto
            if (failure := self.check_checkpoints()) is not None:
                return failure
        done += builder.add(leaves[fed:good])
        if (failure := self.compare_tiles(done, stored_tiles)) is not None:
            return failure
        return self.fail(*fault) if fault is not None else None

    def compare_tiles(self, expected: Sequence[Tile], stored: StoredTiles) -> VerifyResult | None:
        """The stored tiles must be the ones the leaves give."""
        for level, idx, blob in expected:
            found = stored.get((level, idx))
            if found == blob:
                continue
            first_leaf = (idx << TILE_HEIGHT) << (TILE_HEIGHT * level)
            if found is None:
                return self.fail(first_leaf, f"tile {idx} of level {level} is missing from ledger_tiles")
            ours, theirs = split_hashes(blob), split_hashes(found)
            differing = (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b)
            at = next(differing, min(len(ours), len(theirs)))
            return self.fail(
                first_leaf + (at << (TILE_HEIGHT * level)),
                f"stored tile {idx} of level {level} differs from the entries at hash {at} "
                f"({len(theirs)} hashes stored, {len(ours)} expected): the tiles, which proofs and checkpoints "
                "read, were edited",
            )
        return None

    async def finish(self) -> VerifyResult | None:
        """After the last row: the right-edge tiles, and no stored tile beyond them."""
        partial = self.builder.partial()
        keys = [and_(tiles.c.level == level, tiles.c.idx == idx) for level, idx, _ in partial]
        query = select(tiles.c.level, tiles.c.idx, tiles.c.hashes).where(or_(false(), *keys))
        stored = {(level, idx): blob for level, idx, blob in await self.session.execute(query)}
        if (failure := self.compare_tiles(partial, stored)) is not None:
            return failure
        levels = len(self.builder.edge)
        beyond = [
            and_(tiles.c.level == level, tiles.c.idx > (self.builder.size >> (TILE_HEIGHT * level)) >> TILE_HEIGHT)
            for level in range(levels)
        ]
        extra = (
            await self.session.execute(
                select(tiles.c.level, tiles.c.idx).where(or_(tiles.c.level >= levels, *beyond)).limit(1)
            )
        ).first()
        if extra is not None:
            return self.fail(self.builder.size, f"stored tile {extra.idx} of level {extra.level} lies beyond the log")
        return None


async def verify(session: AsyncSession, verifier: VerifierKey | None = None) -> VerifyResult:
    """Recompute every leaf hash, the root at every checkpoint's size, and every tile; stop at the first fault.

    With ``verifier``, each checkpoint's note must also carry its valid signature and state the same size and
    root as the checkpoint row.
    """
    stored = (
        await session.execute(
            select(checkpoints.c.id, checkpoints.c.tree_size, checkpoints.c.root_hash, checkpoints.c.note).order_by(
                checkpoints.c.tree_size, checkpoints.c.id
            )
        )
    ).all()
    walk = _Walk(session, TileBuilder(), list(stored), verifier)
    if (failure := walk.check_checkpoints()) is not None:
        return failure
    async with aclosing(_stream(session, 0, None)) as stream:
        async for rows, stored_tiles in stream:
            if (failure := walk.batch(rows, stored_tiles)) is not None:
                return failure
    if walk.pending:
        size, pending = walk.builder.size, walk.pending[0]
        problem = f"checkpoint #{pending.id} covers {pending.tree_size} entries but the log has only {size}"
        return walk.fail(size, problem)
    if (failure := await walk.finish()) is not None:
        return failure
    return VerifyResult(walk.builder.size, walk.builder.root(), walk.checked)


async def _check_since(reader: TileReader, start: int, size: int, root: bytes) -> None:
    """Rows ``start .. size-1`` against their hashes, columns and tiles, and ``root`` against them all."""
    session = reader.session
    builder, _ = await load_edge(session, start, reader)
    walk = _Walk(session, builder, [], None)
    seen = dict(reader.loaded)
    async with aclosing(_stream(session, start, size)) as stream:
        async for rows, stored_tiles in stream:
            seen |= stored_tiles
            if (failure := walk.batch(rows, stored_tiles)) is not None:
                raise LedgerIntegrityError(failure.summary())
    if walk.builder.size != size:
        raise LedgerIntegrityError(f"index {walk.builder.size} is missing; run verify")
    # The right edge at ``size`` is among the tiles its root was read from: no query left to make.
    if (failure := walk.compare_tiles(walk.builder.partial(), seen)) is not None:
        raise LedgerIntegrityError(failure.summary())
    if walk.builder.root() != root:
        raise LedgerIntegrityError(f"the tiles give a root at size {size} that the entries do not; run verify")


async def sign_checkpoint(session: AsyncSession, key: SigningKey, origin: str) -> LedgerCheckpoint:
    """Sign and store a checkpoint of the log's current size and root, refusing a log that fails the checks.

    The first checkpoint verifies the whole log. Later ones read the root from the tiles, prove from them that
    the log still extends the latest checkpoint (so history signed before cannot have been rewritten), and check
    the entries added since then in full; a full ``verify`` remains the audit of everything before.
    """
    latest = (
        await session.execute(
            select(checkpoints.c.id, checkpoints.c.tree_size, checkpoints.c.root_hash)
            .order_by(checkpoints.c.tree_size.desc(), checkpoints.c.id.desc())
            .limit(1)
        )
    ).first()
    if latest is None:
        result = await verify(session)
        if not result.ok:
            raise LedgerIntegrityError(result.summary())
        size, root = result.tree_size, result.root_hash
    else:
        size = await tree_size(session)
        if latest.tree_size > size:
            raise LedgerIntegrityError(
                f"checkpoint #{latest.id} covers {latest.tree_size} entries but the log has only {size}"
            )
        reader = TileReader(session)
        proof = await consistency_from(reader, latest.tree_size, size)
        if proof.old_root != latest.root_hash or not proof.verify():
            raise LedgerIntegrityError(
                f"the log no longer extends checkpoint #{latest.id}: its root at {latest.tree_size} entries differs "
                "from the signed one"
            )
        await _check_since(reader, latest.tree_size, size, proof.new_root)
        root = proof.new_root
    note = sign_note(Checkpoint(origin, size, root), key)
    checkpoint = LedgerCheckpoint(tree_size=size, root_hash=root, note=note)
    session.add(checkpoint)
    await session.flush()
    return checkpoint
