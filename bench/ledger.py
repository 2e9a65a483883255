"""Ledger figures: append rates, full verification of a large log, proof generation.

    python bench/ledger.py [--events 3000] [--entries 1000000] [--no-postgres]

SQLite runs on a file in a temporary directory; PostgreSQL on a throwaway database created next to
``--pg`` (default postgresql+asyncpg://postgres@127.0.0.1:5432/test) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.db import create_engine
from ledger.migrate import upgrade
from ledger.models.ledger import LedgerEntry
from ledger.tlog.appending import Appender, Event, append
from ledger.tlog.checkpoint import SigningKey
from ledger.tlog.proofs import prove_consistency, prove_inclusion
from ledger.tlog.store import tree_size
from ledger.tlog.verification import sign_checkpoint, verify

PAYLOAD = {"package": "P-2026-000123", "recipient": "委託先A", "files": 3, "bytes": 123_456_789, "sha256": "ab" * 32}
CONTRACT = "6f1c8a52-3d0b-4c1e-9a57-0c1d2e3f4a5b"


def rate(label: str, events: int, seconds: float) -> None:
    print(f"  {label:<44} {events / seconds:>10,.0f} events/s  ({events} in {seconds:.2f} s)")


async def timed(work: Awaitable[object]) -> float:
    start = time.perf_counter()
    await work
    return time.perf_counter() - start


async def grouped(appender: Appender, callers: int, per_caller: int) -> None:
    async def caller() -> None:
        for _ in range(per_caller):
            await appender.append("bench.grouped", PAYLOAD, contract_id=CONTRACT)

    await asyncio.gather(*(caller() for _ in range(callers)))


async def append_rates(engine: AsyncEngine, events: int) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def writer(count: int) -> None:
        for _ in range(count):
            async with sessions() as session, session.begin():
                await append(session, "bench.direct", PAYLOAD, contract_id=CONTRACT)

    rate("1 writer, one transaction per event", events, await timed(writer(events)))
    each = events // 4
    four = await timed(asyncio.gather(*(writer(each) for _ in range(4))))
    rate("4 writers, one transaction per event", each * 4, four)

    for callers in (1, 4, 16, 64):
        appender = Appender(engine)
        per = events // callers
        seconds = await timed(grouped(appender, callers, per))
        await appender.aclose()
        rate(f"Appender, {callers} concurrent callers (group commit)", per * callers, seconds)

    async with sessions() as session:
        assert (await verify(session)).ok


async def bulk_fill(engine: AsyncEngine, entries: int) -> None:
    """Setup, not measured: rows built exactly as append builds them, inserted in large batches."""
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        start = await tree_size(session)
    at = datetime(2026, 8, 1, tzinfo=UTC)
    batch = 10_000
    for first in range(start, entries, batch):
        rows = [
            {"idx": i, **Event("bench.bulk", {**PAYLOAD, "n": i}, CONTRACT, None, at).row()}
            for i in range(first, min(first + batch, entries))
        ]
        async with sessions() as session, session.begin():
            await session.execute(insert(LedgerEntry), rows)


async def big_log(engine: AsyncEngine, entries: int) -> None:
    t0 = time.perf_counter()
    await bulk_fill(engine, entries)
    print(f"  (setup: filled to {entries:,} entries in {time.perf_counter() - t0:.1f} s)")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    key = SigningKey.generate("bench.handover")
    async with sessions() as session, session.begin():
        t0 = time.perf_counter()
        checkpoint = await sign_checkpoint(session, key, "bench.handover/ledger")
        print(f"  sign checkpoint (verifies first)            {time.perf_counter() - t0:>8.2f} s")
    async with sessions() as session:
        t0 = time.perf_counter()
        result = await verify(session, key.verifier)
        seconds = time.perf_counter() - t0
        assert result.ok and result.tree_size == checkpoint.tree_size, result.summary()
        print(f"  full verify of {result.tree_size:,} entries            {seconds:>8.2f} s")
        for label, job in (
            ("inclusion proof, a leaf a third in", lambda: prove_inclusion(session, result.tree_size // 3)),
            ("inclusion proof, last leaf", lambda: prove_inclusion(session, result.tree_size - 1)),
            ("consistency proof, half -> whole", lambda: prove_consistency(session, result.tree_size // 2)),
        ):
            t0 = time.perf_counter()
            proof = await job()
            seconds = time.perf_counter() - t0
            assert proof.verify()
            print(f"  {label:<42} {seconds:>8.2f} s ({len(proof.path)} nodes)")


async def run_sqlite(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await upgrade(engine)
            print("SQLite (WAL, synchronous=NORMAL, file in a temp dir)")
            await append_rates(engine, args.events)
            if args.entries:
                await big_log(engine, args.entries)
        finally:
            await engine.dispose()


async def run_postgres(args: argparse.Namespace) -> None:
    name = f"handover_bench_{os.getpid()}"
    admin = create_async_engine(args.pg, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(f"{args.pg.rsplit('/', 1)[0]}/{name}")
        try:
            await upgrade(engine)
            print(f"PostgreSQL ({args.pg.rsplit('@', 1)[-1].rsplit('/', 1)[0]}, throwaway database {name})")
            await append_rates(engine, args.events)
            if args.entries:
                await big_log(engine, args.entries)
        finally:
            await engine.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="events per append-rate figure")
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the log to verify (0: skip)")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    await run_sqlite(args)
    if not args.no_postgres:
        await run_postgres(args)


if __name__ == "__main__":
    asyncio.run(main())
