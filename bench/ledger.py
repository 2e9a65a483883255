"""Ledger figure: register lines through the production path (proofs and full verify: bench/ledger_proofs.py).

    python bench/ledger.py [--events 20000] [--steps 64] [--no-postgres]

The append figure: ``--steps`` concurrent steps, each step its own transaction with a small business write (an
audit row) and one register line through ``ledger.registers.handover.record``, until ``--events`` lines are in the
log (each step's commit returns once its line has its index: group commit, ``ledger.tlog.sequencing``). Printed
beside PostgreSQL COPY's rows/s into a table shaped like the log, measured in the same run, and the ratio.
SQLite runs on a file in a temporary directory; PostgreSQL on a throwaway database created next to ``--pg``
(default postgresql+asyncpg://postgres@127.0.0.1:5432/test) and dropped afterwards.
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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from throwaway_postgres import throwaway_database

from ledger.db import create_engine
from ledger.migrate import upgrade
from ledger.models.audit import AuditEvent
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.tlog.appending import Event
from ledger.tlog.verification import verify

PAYLOAD = {"package": "P-2026-000123", "recipient": "委託先A", "files": 3, "bytes": 123_456_789, "sha256": "ab" * 32}
CONTRACT = "6f1c8a52-3d0b-4c1e-9a57-0c1d2e3f4a5b"


def rate(label: str, events: int, seconds: float) -> float:
    per_second = events / seconds
    print(f"  {label:<52} {per_second:>10,.0f} events/s  ({events} in {seconds:.2f} s)")
    return per_second


async def timed(work: Awaitable[object]) -> float:
    start = time.perf_counter()
    await work
    return time.perf_counter() - start


def line(n: int) -> RegisterEntry:
    return RegisterEntry(
        kind=RegisterKind.PACKAGE_DELIVERED,
        category=Category.PROVIDED,
        content=f"P-2026-{n:06d}.zip",
        contract_id=CONTRACT,
        package_id=f"P-2026-{n:06d}",
        handler_from="system",
        handler_to="委託先A",
        quantity={"files": 3, "records": 1200},
        channel="sftp",
    )


async def steps(engine: AsyncEngine, concurrency: int, events: int, *, lines: bool = True) -> float:
    """``concurrency`` tasks run steps until ``events`` steps are done; each step's line is in the log on return.

    Without ``lines`` the steps write their business row only: the ceiling the step path itself sets here.
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    numbers = iter(range(events))

    async def worker() -> None:
        for n in numbers:
            async with sessions() as session, session.begin():
                session.add(AuditEvent(action="bench.step", object_type="package", object_id=str(n), outcome="allowed"))
                if lines:
                    await record(session, line(n))

    return await timed(asyncio.gather(*(worker() for _ in range(concurrency))))


async def append_rates(engine: AsyncEngine, events: int, concurrency: int) -> float:
    rate("1 step at a time", events // 10, await steps(engine, 1, events // 10))
    ceiling = await steps(engine, concurrency, events, lines=False)
    rate(f"{concurrency} concurrent steps without a register line (ceiling)", events, ceiling)
    figure = rate(f"{concurrency} concurrent steps (the figure)", events, await steps(engine, concurrency, events))
    async with async_sessionmaker(engine)() as session:
        result = await verify(session)
        assert result.ok and result.tree_size == events + events // 10, result.summary()
    return figure


async def copy_anchor(engine: AsyncEngine, rows: int) -> float:
    """PostgreSQL COPY into a table shaped like the log: rows built as append builds them, one COPY per 10,000."""
    at = datetime(2026, 8, 1, tzinfo=UTC)
    records = [(i, *Event("bench.copy", {**PAYLOAD, "n": i}, CONTRACT, None, at).row().values()) for i in range(rows)]
    async with engine.connect() as conn:
        await conn.execute(text("CREATE TABLE bench_copy (LIKE ledger_entries INCLUDING ALL)"))
        await conn.commit()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        columns = ["idx", "entry", "leaf_hash", "kind", "contract_id", "package_id", "recorded_at"]
        start = time.perf_counter()
        for first in range(0, rows, 10_000):
            await raw.copy_records_to_table("bench_copy", records=records[first : first + 10_000], columns=columns)
        seconds = time.perf_counter() - start
        await conn.execute(text("DROP TABLE bench_copy"))
        await conn.commit()
    return rate("anchor: PostgreSQL COPY into a table like the log", rows, seconds)


async def run_sqlite(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await upgrade(engine)
            print("SQLite (WAL, synchronous=NORMAL, file in a temp dir)")
            args.figures["SQLite"] = await append_rates(engine, args.events, args.steps)
        finally:
            await engine.dispose()


async def run_postgres(args: argparse.Namespace) -> None:
    name = f"handover_bench_{os.getpid()}"
    async with throwaway_database(args.pg, name) as engine:
        await upgrade(engine)
        print(f"PostgreSQL ({args.pg.rsplit('@', 1)[-1].rsplit('/', 1)[0]}, throwaway database {name})")
        args.figures["anchor"] = await copy_anchor(engine, args.copy_rows)
        args.figures["PostgreSQL"] = await append_rates(engine, args.events, args.steps)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="register lines for the append figure")
    parser.add_argument("--steps", type=int, default=64, help="concurrent steps")
    parser.add_argument("--copy-rows", type=int, default=200_000, help="rows for the COPY anchor")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    args.figures = {}
    await run_sqlite(args)
    if not args.no_postgres:
        await run_postgres(args)
    anchor = args.figures.get("anchor")
    print(f"register lines through the production path, {args.steps} concurrent steps (target >= 10,000 events/s):")
    for database in ("PostgreSQL", "SQLite"):
        if database in args.figures:
            ratio = f", {args.figures[database] / anchor:.3f} x PostgreSQL COPY" if anchor else ""
            print(f"  {database:<10} {args.figures[database]:>10,.0f} events/s{ratio}")
    if anchor:
        print(f"  anchor     {anchor:>10,.0f} rows/s PostgreSQL COPY (same run)")


if __name__ == "__main__":
    asyncio.run(main())
