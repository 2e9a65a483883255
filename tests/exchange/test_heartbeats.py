"""Heartbeat rows: written and renewed by a process, read as alive within a window, progressing unless a loop of
the role is failing, removed at a graceful stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.heartbeats import Heartbeat, check_roles, live_processes
from exchange.roles import Role
from exchange.supervision import Health
from ledger.db import session_factory
from ledger.models.processes import ProcessHeartbeat
from tests.clock import Clock


async def test_alive_progressing_and_gone(db_engine: AsyncEngine) -> None:
    sessions = session_factory(db_engine)
    clock = Clock(datetime(2026, 12, 3, 1, 0, tzinfo=UTC))
    worker_health = Health(clock=clock, roles=(Role.WORKER,))
    worker_health.register("intake.scan")
    worker = Heartbeat(sessions, worker_health, interval=1)
    scheduler = Heartbeat(sessions, Health(clock=clock, roles=(Role.SCHEDULER,)), interval=1)
    await worker.write()
    await scheduler.write()
    clock.advance(timedelta(seconds=20))
    await worker.write()  # renewed: still one row
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessHeartbeat)) == 2
        alive = await live_processes(session, timedelta(seconds=10), now=clock())
    assert [process.process_key for process in alive] == [worker.key]  # the scheduler's beat is 20 s old
    assert alive[0].roles == ["worker"] and alive[0].components["intake.scan"]["status"] == "ok"
    worker_check, scheduler_check = check_roles(alive, [Role.WORKER, Role.SCHEDULER])
    assert worker_check.ok and not scheduler_check.ok and not scheduler_check.alive

    worker_health.failing("intake.scan", "受渡しフォルダの確認が異常終了しました")
    await worker.write()
    async with sessions() as session:
        alive = await live_processes(session, timedelta(seconds=10), now=clock())
    (check,) = check_roles(alive, [Role.WORKER])
    assert check.alive and not check.ok  # alive, but not progressing

    await worker.remove()
    async with sessions() as session:
        assert await live_processes(session, timedelta(seconds=10), now=clock()) == []
