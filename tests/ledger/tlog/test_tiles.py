"""Stored tiles (C2SP tlog-tiles layout): proofs and roots from them equal the streaming reference, on both databases.

The reference is the range hasher that built every proof from all leaf hashes before tiles existed
(``tests.ledger.merkle_reference.RangeHasher``) and the literal RFC 9162 recursion.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ledger.migrate import alembic_config, downgrade, upgrade
from ledger.tlog.appending import Event, append
from ledger.tlog.checkpoint import SigningKey
from ledger.tlog.merkle import consistency_ranges, inclusion_ranges, leaf_hash, root_hash
from ledger.tlog.proofs import prove_consistency, prove_inclusion
from ledger.tlog.store import entries, tree_size
from ledger.tlog.tiles import TILE_WIDTH, TileBuilder, record_leaves, split_hashes, tiles
from ledger.tlog.verification import sign_checkpoint, verify
from tests.ledger.merkle_reference import RangeHasher, ref_mth

AT = datetime(2026, 8, 1, tzinfo=UTC)
ORIGIN = "handover.test/ledger"
BOUNDARIES = (1, 2, 3, 255, 256, 257, 511, 512, 513, 600)
BIG = (65535, 65536, 65537)


def _reference(ranges: Sequence[tuple[int, int]], leaves: Sequence[bytes]) -> list[bytes]:
    hasher = RangeHasher(ranges)
    for leaf in leaves[: hasher.needed]:
        hasher.add(leaf)
    return hasher.hashes()


def _rows(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"idx": start + i, **Event("test.bulk", {"n": start + i}, contract_id=f"c-{i % 3}", at=AT).row()}
        for i in range(count)
    ]


async def _grow(session: AsyncSession, sizes: Sequence[int]) -> list[bytes]:
    """Entries appended in chunks of the given sizes, each with its tiles recorded as ``appending`` does."""
    leaves: list[bytes] = []
    for count in sizes:
        rows = _rows(len(leaves), count)
        await session.execute(insert(entries), rows)
        hashes = [row["leaf_hash"] for row in rows]
        await record_leaves(session, len(leaves), hashes)  # type: ignore[arg-type]
        leaves += hashes  # type: ignore[arg-type]
    return leaves


async def _stored_tiles(session: AsyncSession) -> dict[tuple[int, int], bytes]:
    rows = await session.execute(select(tiles.c.level, tiles.c.idx, tiles.c.hashes))
    return {(level, idx): blob for level, idx, blob in rows}


def test_builder_gives_the_rfc_root_and_tiles_at_every_boundary() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(TILE_WIDTH * 3 + 5)]
    chunks = random.Random(16)
    for size in (0, *BOUNDARIES, 767, 768, 769):
        builder, done, fed = TileBuilder(), [], 0
        while fed < size:
            step = min(size - fed, chunks.choice((1, 2, 7, 100, 256, 300)))
            done += builder.add(leaves[fed : fed + step])
            fed += step
            assert builder.root() == root_hash(leaves[:fed])  # a root at every step, as verify asks at checkpoints
        assert builder.root() == ref_mth(leaves[:size])
        every = {(level, idx): blob for level, idx, blob in done + builder.partial()}
        for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
            assert split_hashes(every[(0, n)]) == leaves[n * TILE_WIDTH : min(size, (n + 1) * TILE_WIDTH)]
        level_1 = [ref_mth(leaves[n * TILE_WIDTH : (n + 1) * TILE_WIDTH]) for n in range(size // TILE_WIDTH)]
        assert split_hashes(every.get((1, 0), b"")) == level_1


async def test_tile_proofs_equal_the_streaming_reference(db_session: AsyncSession) -> None:
    pattern = random.Random(3)
    leaves = await _grow(db_session, [1, 1, 253, 1, 1, 300, 43])  # 600 leaves, across the first tile boundaries
    for size in BOUNDARIES:
        indices = {0, size - 1, size // 2, *(pattern.randrange(size) for _ in range(4))}
        for idx in sorted(indices):
            proof = await prove_inclusion(db_session, idx, size)
            assert list(proof.path) == _reference(inclusion_ranges(idx, size), leaves)
            assert (proof.root_hash, proof.leaf_hash) == (root_hash(leaves[:size]), leaves[idx])
            assert proof.verify()
        for old in sorted({0, 1, size // 2, size - 1, size, pattern.randint(0, size)}):
            consistency = await prove_consistency(db_session, old, size)
            assert list(consistency.path) == _reference(consistency_ranges(old, size), leaves)
            assert consistency.old_root == root_hash(leaves[:old])
            assert consistency.verify()


async def test_tile_proofs_around_the_second_level(db_session: AsyncSession) -> None:
    """65535 / 65536 / 65537 leaves: a full level-1 tile, then the first hash of level 2."""
    leaves = await _grow(db_session, [40_000, 25_535, 1, 1])
    assert split_hashes((await _stored_tiles(db_session))[(2, 0)]) == [root_hash(leaves[:65536])]
    pattern = random.Random(65536)
    for size in BIG:
        for idx in (0, 255, 256, 65535 if size > 65535 else 65534, size - 1, pattern.randrange(size)):
            proof = await prove_inclusion(db_session, idx, size)
            assert list(proof.path) == _reference(inclusion_ranges(idx, size), leaves)
            assert proof.root_hash == root_hash(leaves[:size])
            await asyncio.sleep(0)
        for old in (1, 257, 65535, pattern.randrange(1, size)):
            consistency = await prove_consistency(db_session, old, size)
            assert list(consistency.path) == _reference(consistency_ranges(old, size), leaves)
            assert consistency.verify()
            await asyncio.sleep(0)
    assert (await verify(db_session)).ok


async def test_tampered_tiles_are_named_by_verify(db_session: AsyncSession, key: SigningKey) -> None:
    await _grow(db_session, [300, 10])
    await sign_checkpoint(db_session, key, ORIGIN)
    assert (await verify(db_session)).ok
    stored = await _stored_tiles(db_session)
    first = stored[(0, 0)]
    forged = first[: 32 * 5] + bytes(32) + first[32 * 6 :]
    where = (tiles.c.level == 0) & (tiles.c.idx == 0)
    await db_session.execute(update(tiles).where(where).values(hashes=forged))
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 5)
    assert "stored tile 0 of level 0 differs from the entries at hash 5" in (result.problem or "")
    await db_session.execute(update(tiles).where(where).values(hashes=first))
    partial = (tiles.c.level == 0) & (tiles.c.idx == 1)
    await db_session.execute(update(tiles).where(partial).values(hashes=stored[(0, 1)][:32]))
    result = await verify(db_session)
    assert (result.first_bad_index, "(1 hashes stored, 54 expected)" in (result.problem or "")) == (257, True)
    await db_session.execute(delete(tiles).where(partial))
    assert "tile 1 of level 0 is missing" in ((await verify(db_session)).problem or "")
    await db_session.execute(insert(tiles), [{"level": 0, "idx": 1, "hashes": stored[(0, 1)]}])
    await db_session.execute(insert(tiles), [{"level": 3, "idx": 0, "hashes": bytes(32)}])
    assert "stored tile 0 of level 3 lies beyond the log" in ((await verify(db_session)).problem or "")


async def test_append_rebuilds_a_right_edge_that_is_out_of_step(db_session: AsyncSession, key: SigningKey) -> None:
    for i in range(5):
        await append(db_session, "edge", {"i": i}, at=AT)
    assert await tree_size(db_session) == 5  # sequences the queued lines, writing their tiles
    tile = (tiles.c.level == 0) & (tiles.c.idx == 0)
    await db_session.execute(update(tiles).where(tile).values(hashes=bytes(64)))
    await append(db_session, "edge", {"i": 5}, at=AT)
    assert (await verify(db_session)).ok
    await sign_checkpoint(db_session, key, ORIGIN)


@pytest.mark.allow_blocking("Alembic runs a revision through run_sync by design; the backfill is part of it")
async def test_migration_backfills_the_tiles_of_an_existing_log(db_engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        leaves = await _grow(session, [1, 700, 65535 - 701, 300])
        written = await _stored_tiles(session)
    script = ScriptDirectory.from_config(alembic_config())
    before = script.get_revision("0025_ledger_tiles")
    assert before is not None and isinstance(before.down_revision, str)
    await downgrade(db_engine, before.down_revision)
    await upgrade(db_engine)
    async with sessions() as session:
        assert await _stored_tiles(session) == written
        result = await verify(session)
        assert (result.ok, result.root_hash) == (True, root_hash(leaves))
