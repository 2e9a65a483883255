"""The ``ledger.verify`` duty: the daily full check of the log. The hourly checkpoint checks only what is new since
the latest checkpoint, so an edit of an older entry's bytes passes it; the daily duty finds it and fails."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.duties.scheduler import DUTIES_BY_NAME, DutyContext, DutyRunner
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context
from tests.ledger.tampering import allow_tampering


async def _lines(ctx: DutyContext, count: int) -> None:
    async with ctx.sessions() as session, session.begin():
        for n in range(count):
            await record(session, RegisterEntry(RegisterKind.PACKAGE_SEALED, Category.PROVIDED, f"受渡し {n}"))


async def test_the_daily_verify_finds_an_old_entry_the_hourly_checkpoint_passes(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock(jst(2026, 9, 1, 3))
    ctx = await duty_context(db_engine, tmp_path, clock)
    runner = DutyRunner(ctx, (DUTIES_BY_NAME["ledger.checkpoint"], DUTIES_BY_NAME["ledger.verify"]))
    await _lines(ctx, 5)
    first = await runner.run_now("ledger.checkpoint")
    verified = await runner.run_now("ledger.verify")
    assert first is not None and verified is not None
    assert first.ok and verified.ok, (first.result, verified.result)
    assert verified.result == {"tree_size": 5, "checkpoints": 1}

    async with ctx.sessions() as session, session.begin():
        await allow_tampering(session)
        entry = (await session.execute(text("SELECT entry FROM ledger_entries WHERE idx = 2"))).scalar_one()
        forged = bytes(entry).replace("受渡し 2".encode(), "受渡し 9".encode())
        await session.execute(text("UPDATE ledger_entries SET entry = :forged WHERE idx = 2"), {"forged": forged})
    await _lines(ctx, 1)
    hourly = await runner.run_now("ledger.checkpoint")
    assert hourly is not None and hourly.ok, "the hourly checkpoint checks only entries added since the latest one"
    daily = await runner.run_now("ledger.verify")
    assert daily is not None and not daily.ok
    assert "index 2" in str(daily.result), daily.result
