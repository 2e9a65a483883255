"""Duties: leases, due times on an injected clock, and two real hub processes running each duty once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.duties.scheduler import DUTIES, Duty, DutyContext, DutyRunner
from ledger.db import create_engine
from ledger.models.duties import DutyRun, DutyState
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context

ROOT = Path(__file__).resolve().parents[3]


def counting_duty(name: str, calls: list[str], every: timedelta = timedelta(hours=1)) -> Duty:
    async def run(ctx: DutyContext, now: Any) -> dict[str, Any]:
        calls.append(name)
        return {"n": len(calls)}

    return Duty(name, every, run)


async def test_a_duty_runs_once_per_due_time_on_the_injected_clock(db_engine: AsyncEngine, tmp_path: Path) -> None:
    clock = Clock(jst(2026, 9, 1, 10))
    calls: list[str] = []
    ctx = await duty_context(db_engine, tmp_path, clock)
    first, second = (DutyRunner(ctx, (counting_duty("probe", calls),), owner=o) for o in ("a", "b"))
    assert await first.run_if_due("probe") is not None
    assert await second.run_if_due("probe") is None
    clock.advance(timedelta(minutes=59))
    assert await second.run_if_due("probe") is None
    clock.advance(timedelta(minutes=2))
    assert await second.run_if_due("probe") is not None
    assert calls == ["probe", "probe"]


async def test_a_live_lease_blocks_others_and_an_expired_one_is_taken_over(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock(jst(2026, 9, 1, 10))
    calls: list[str] = []
    ctx = await duty_context(db_engine, tmp_path, clock)
    duty = counting_duty("probe", calls)
    runner = DutyRunner(ctx, (duty,), owner="survivor")
    async with ctx.sessions() as session, session.begin():  # a process that died holding the lease
        session.add(
            DutyState(name="probe", next_due_at=clock(), lease_owner="dead", lease_until=clock() + ctx.config.lease)
        )
    assert await runner.run_if_due("probe") is None
    clock.advance(ctx.config.lease + timedelta(seconds=1))
    assert await runner.run_if_due("probe") is not None
    assert calls == ["probe"]


async def test_a_run_whose_lease_was_taken_over_records_nothing(db_engine: AsyncEngine, tmp_path: Path) -> None:
    """The run's last commit is fenced on its claim: a holder that lapsed cannot overwrite the new holder's state."""
    clock = Clock(jst(2026, 9, 1, 10))
    ctx = await duty_context(db_engine, tmp_path, clock)

    async def overtaken(ctx: DutyContext, now: Any) -> dict[str, Any]:
        async with ctx.sessions.begin() as session:  # the lease lapsed and another process claimed the duty
            await session.execute(
                update(DutyState)
                .where(DutyState.name == "probe")
                .values(lease_owner="elsewhere", lease_generation=DutyState.lease_generation + 1)
            )
        return {"done": True}

    runner = DutyRunner(ctx, (Duty("probe", timedelta(hours=1), overtaken),), owner="lapsed")
    assert await runner.run_if_due("probe") is None
    async with ctx.sessions() as session:
        state = (await session.execute(select(DutyState).where(DutyState.name == "probe"))).scalar_one()
        [run] = (await session.execute(select(DutyRun))).scalars().all()
    assert (state.lease_owner, state.last_result, state.lease_generation) == ("elsewhere", None, 2)
    assert (run.owner, run.ok) == ("lapsed", None)  # started, never recorded as done


async def test_a_failing_duty_is_recorded_and_retried_after_a_pause(db_engine: AsyncEngine, tmp_path: Path) -> None:
    clock = Clock(jst(2026, 9, 1, 10))
    attempts: list[int] = []

    async def flaky(ctx: DutyContext, now: Any) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("Box unavailable")
        return {}

    ctx = await duty_context(db_engine, tmp_path, clock)
    runner = DutyRunner(ctx, (Duty("flaky", timedelta(days=1), flaky),))
    failed = await runner.run_if_due("flaky")
    assert failed is not None and failed.ok is False and "Box unavailable" in str(failed.result)
    assert await runner.run_if_due("flaky") is None
    clock.advance(ctx.config.retry_after + timedelta(seconds=1))
    retried = await runner.run_if_due("flaky")
    assert retried is not None and retried.ok and retried.due_at == failed.due_at


def _start(db_url: str, directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.exchange.duty_child", "scheduler", db_url, str(directory)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _runs(db_url: str) -> list[tuple[str, Any, bool | None]]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(select(DutyRun.name, DutyRun.due_at, DutyRun.ok))).all()]
    finally:
        await engine.dispose()


async def _wait_for(db_url: str, expected: set[tuple[str, Any]], children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 90
    while not expected <= {(name, due) for name, due, ok in await _runs(db_url) if ok is not None}:
        assert all(child.poll() is None for child in children), "a hub process died"
        assert time.monotonic() < deadline, "the duties did not run in time"
        await asyncio.sleep(0.1)


async def test_two_hub_processes_run_each_duty_exactly_once_per_due_time(db_url: str, tmp_path: Path) -> None:
    clock = Clock(jst(2026, 9, 1, 10))
    engine = create_engine(db_url)
    await duty_context(engine, tmp_path, clock)  # writes the signing key
    await engine.dispose()
    (tmp_path / "clock").write_text(clock().isoformat())
    children = [_start(db_url, tmp_path), _start(db_url, tmp_path)]
    try:
        await _wait_for(db_url, {(d.name, d.due_time(clock())) for d in DUTIES}, children)
        clock.advance(timedelta(days=1, hours=1))
        (tmp_path / "clock").write_text(clock().isoformat())
        await _wait_for(db_url, {(d.name, d.due_time(clock())) for d in DUTIES}, children)
        await asyncio.sleep(1.0)  # many more ticks of both processes at the same clock: none may run a duty again
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            await asyncio.to_thread(child.wait, 30)
    runs = await _runs(db_url)
    assert all(ok for _, _, ok in runs), runs
    per_due_time = Counter((name, due) for name, due, _ in runs)
    assert len(per_due_time) == 2 * len(DUTIES)
    assert set(per_due_time.values()) == {1}
