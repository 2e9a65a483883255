"""Ledger proofs from stored tiles: inclusion, consistency, checkpoint at large sizes; full verify against SHA-256.

    PYTHONPATH=$PWD python bench/ledger_proofs.py [--sizes 1000000,10000000] [--verify 1000000] [--new 100]
                                                  [--no-sqlite] [--no-postgres] [--pg URL]

Each database gets a throwaway log: SQLite a file in a temporary directory, PostgreSQL a database created next to
``--pg`` and dropped afterwards. The log is built up to each size in turn (setup, not measured as a figure):
entries made like ``append`` makes them, inserted in bulk (PostgreSQL COPY, SQLite executemany) into a database
one migration before ``0025_ledger_tiles``; then that migration runs, so its backfill builds the tiles (the path
a hub upgraded with a long ledger takes; its time is printed), and a checkpoint of that size is stored as the hourly
duty would have kept up. At each size the figures are the median of 15 runs of: an inclusion proof of a random
entry, a consistency proof from a random older size, and a checkpoint signed after ``--new`` entries were appended
through ``append`` (signing checks the entries since the previous checkpoint), each with this process's CPU time.
At the ``--verify`` size, a full verify is timed against the anchor: hashing the same entries' leaf hashes with
hashlib in this process, in leaves/s.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throwaway_postgres import throwaway_database

from ledger.canonical import canonical_entry
from ledger.db import create_engine
from ledger.migrate import alembic_config, downgrade, upgrade
from ledger.models.ledger import LedgerCheckpoint
from ledger.tlog.appending import append
from ledger.tlog.checkpoint import Checkpoint, SigningKey, sign_note
from ledger.tlog.proofs import prove_consistency, prove_inclusion
from ledger.tlog.store import tree_size
from ledger.tlog.verification import sign_checkpoint, verify

AT = datetime(2026, 8, 1, tzinfo=UTC)
CONTRACT = "6f1c8a52-3d0b-4c1e-9a57-0c1d2e3f4a5b"
PAYLOAD = {"package": "P-2026-000123", "recipient": "委託先A", "files": 3, "sha256": "ab" * 32}
MARK = 8_765_432_198_765_432  # replaced by each entry's number: the entry stays canonical JSON
KIND = "bench.bulk"
BATCH = 50_000
RUNS = 15
KEY = SigningKey.generate("bench.handover")
ORIGIN = "bench.handover/ledger"


def entry_parts() -> tuple[bytes, bytes]:
    entry = canonical_entry(KIND, AT, {**PAYLOAD, "n": MARK}, contract_id=CONTRACT)
    before, after = entry.split(str(MARK).encode())
    return before, after


def entries(first: int, end: int) -> Iterator[bytes]:
    before, after = entry_parts()
    for i in range(first, end):
        yield before + str(i).encode() + after


def before_tiles() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0025_ledger_tiles")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


async def fill(engine: AsyncEngine, first: int, end: int) -> None:
    """Entries ``first .. end-1`` in bulk, with their leaf hashes and columns as ``append`` writes them."""
    sha256, recorded = hashlib.sha256, datetime.now(UTC)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for start in range(first, end, BATCH):
            stop = min(start + BATCH, end)
            records = [
                (i, e, sha256(b"\x00" + e).digest(), KIND, CONTRACT, None, recorded)
                for i, e in zip(range(start, stop), entries(start, stop), strict=True)
            ]
            if engine.dialect.name == "postgresql":
                columns = ["idx", "entry", "leaf_hash", "kind", "contract_id", "package_id", "recorded_at"]
                await raw.copy_records_to_table("ledger_entries", records=records, columns=columns)
            else:
                sql = (
                    "INSERT INTO ledger_entries (idx, entry, leaf_hash, kind, contract_id, package_id, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)"
                )
                rows = [(*r[:6], r[6].strftime("%Y-%m-%d %H:%M:%S.%f")) for r in records]
                await raw.executemany(sql, rows)
                await raw.commit()


class Timing:
    """Wall time of each run, and this process's CPU time (the rest is the database and the machine's load)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def run(self, job: Callable[[], Awaitable[Any]]) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        await job()
        self.wall.append((time.perf_counter() - w0) * 1000)
        self.cpu.append((time.process_time() - c0) * 1000)

    def report(self, label: str, target_ms: float) -> None:
        median = statistics.median(self.wall)
        print(
            f"  {label:<52} median {median:>8.2f} ms (min {min(self.wall):.2f}, "
            f"our CPU {statistics.median(self.cpu):.2f})"
            f"   target <= {target_ms:g} ms: {'met' if median <= target_ms else 'MISSED'}"
        )


def sha256_anchor(size: int) -> tuple[float, float]:
    """Leaves/s, by the wall clock and by this process's CPU time: SHA-256 leaf hashes of the same entries in one
    comprehension (the hashing a verify must do at least)."""
    data = list(entries(0, size))
    sha256 = hashlib.sha256
    w0, c0 = time.perf_counter(), time.process_time()
    leaves = [sha256(b"\x00" + e).digest() for e in data]
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert len(leaves) == size
    return size / wall, size / cpu


async def at_size(engine: AsyncEngine, size: int, new: int) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        current = await tree_size(session)
    t0 = time.perf_counter()
    await downgrade(engine, before_tiles())
    await fill(engine, current, size)
    filled = time.perf_counter() - t0
    t0 = time.perf_counter()
    await upgrade(engine)
    print(
        f"  (setup: {size - current:,} entries inserted in {filled:.1f} s; migration 0025 backfilled the tiles of "
        f"{size:,} entries in {time.perf_counter() - t0:.1f} s)"
    )
    async with sessions() as session, session.begin():
        # Setup: the hourly duty would have kept up, so sign the tiles' root as it stands (signing checks the
        # entries since the previous checkpoint, and this bench inserted millions at once).
        root = (await prove_consistency(session, 0)).new_root
        session.add(
            LedgerCheckpoint(tree_size=size, root_hash=root, note=sign_note(Checkpoint(ORIGIN, size, root), KEY))
        )
    print(f"  at {size:,} entries ({RUNS} runs each):")
    pick = random.Random(size)
    inclusion, consistency, checkpoint = Timing(), Timing(), Timing()
    async with sessions() as session:
        n = await tree_size(session)

        async def prove() -> None:
            assert (await prove_inclusion(session, pick.randrange(n))).verify()

        async def extend() -> None:
            assert (await prove_consistency(session, pick.randint(1, n))).verify()

        for _ in range(RUNS):
            await inclusion.run(prove)
            await consistency.run(extend)
    for _ in range(RUNS):
        async with sessions() as session, session.begin():
            for i in range(new):
                await append(session, "bench.new", {"i": i}, contract_id=CONTRACT)
        async with sessions() as session, session.begin():
            await checkpoint.run(lambda: sign_checkpoint(session, KEY, ORIGIN))
    inclusion.report("inclusion proof of a random entry", 10)
    consistency.report("consistency proof, random old size to now", 10)
    checkpoint.report(f"checkpoint after {new} entries appended through append", 10)


async def full_verify(engine: AsyncEngine, size: int) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        w0, c0 = time.perf_counter(), time.process_time()
        result = await verify(session, KEY.verifier)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert result.ok, result.summary()
    anchor, anchor_cpu = sha256_anchor(result.tree_size)
    rate, rate_cpu = result.tree_size / wall, result.tree_size / cpu
    print(
        f"  full verify of {result.tree_size:,} entries ({result.checkpoints_checked} checkpoints): {wall:.2f} s "
        f"= {rate:,.0f} leaves/s; anchor SHA-256 of the same leaves with hashlib {anchor:,.0f} leaves/s; "
        f"ratio {rate / anchor:.2f}; target <= 3 s: {'met' if wall <= 3 else 'MISSED'}\n"
        f"    by this process's CPU time: verify {cpu:.2f} s = {rate_cpu:,.0f} leaves/s, anchor {anchor_cpu:,.0f} "
        f"leaves/s, ratio {rate_cpu / anchor_cpu:.2f} (the rest of the wall time the machine ran others, or the "
        "database)"
    )


async def run(engine: AsyncEngine, sizes: list[int], verify_size: int, new: int) -> None:
    await upgrade(engine, before_tiles())
    for size in sorted(set(sizes) | ({verify_size} if verify_size else set())):
        await at_size(engine, size, new)
        if size == verify_size:
            await full_verify(engine, size)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="log sizes, comma-separated")
    parser.add_argument("--verify", type=int, default=1_000_000, help="size at which to time a full verify (0: none)")
    parser.add_argument("--new", type=int, default=100, help="entries appended before each timed checkpoint")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
            try:
                print("SQLite (WAL, file in a temporary directory)")
                await run(engine, sizes, args.verify, args.new)
            finally:
                await engine.dispose()
    if not args.no_postgres:
        name = f"bench_tiles_{os.getpid()}"
        async with throwaway_database(args.pg, name) as engine:
            print(f"PostgreSQL (throwaway database {name})")
            await run(engine, sizes, args.verify, args.new)


if __name__ == "__main__":
    asyncio.run(main())
