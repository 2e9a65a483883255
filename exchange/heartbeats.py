"""Each hub process's heartbeat row, and which processes of a role are alive (``handover health``).

A process started by ``handover serve`` writes its row at start and then every ``serve.heartbeat_seconds``: its
roles, host name, process id, start and the state of each of its supervised loops (``Health.report``). It removes
the row when it stops; a killed process's row stays, stops being live once its last beat is older than the
reader's window, and is deleted by the next process that starts after a day. A process is *alive* for a role when
it beat within the window and runs that role; it is *progressing* when none of that role's loops is failing.
Times are each process's own clock (UTC), so the hosts of one hub keep their clocks in step (NTP).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.roles import Role, role_of
from exchange.supervision import Beat, Health
from ledger.models.base import new_public_id, utcnow
from ledger.models.processes import ProcessHeartbeat

# Rows of processes that died without removing them are kept this long for operators to see, then deleted.
FORGET_AFTER = timedelta(days=1)


class Heartbeat:
    """This process's row: written at start and every ``interval`` seconds, removed at a graceful stop."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], health: Health, interval: float) -> None:
        self.sessions = sessions
        self.health = health
        self.interval = interval
        self.key = new_public_id()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = health.clock()
        self._written = False

    async def loop(self, beat: Beat) -> None:
        while True:
            await self.write()
            beat()
            await asyncio.sleep(self.interval)

    async def write(self) -> None:
        now = self.health.clock()
        values: dict[str, Any] = {
            "roles": [str(role) for role in self.health.roles],
            "last_beat": now,
            "components": self.health.report(),
        }
        async with self.sessions.begin() as session:
            if not self._written:
                await session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.last_beat < now - FORGET_AFTER))
            changed = await session.execute(
                update(ProcessHeartbeat).where(ProcessHeartbeat.process_key == self.key).values(**values)
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                session.add(
                    ProcessHeartbeat(
                        process_key=self.key, host=self.host, pid=self.pid, started_at=self.started_at, **values
                    )
                )
        self._written = True

    async def remove(self) -> None:
        async with self.sessions.begin() as session:
            await session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.process_key == self.key))


@dataclass(frozen=True)
class RoleCheck:
    """The processes that run ``role`` and beat within the window, and those of them whose loops are all well."""

    role: Role
    alive: list[ProcessHeartbeat]
    progressing: list[ProcessHeartbeat]

    @property
    def ok(self) -> bool:
        return bool(self.progressing)


def failing_components(process: ProcessHeartbeat, role: Role) -> dict[str, dict[str, Any]]:
    """The loops of ``role`` (and the heartbeat itself) that the process last reported failing."""
    return {
        name: state
        for name, state in process.components.items()
        if role_of(name) in (role, None) and state.get("status") != "ok"
    }


async def live_processes(
    session: AsyncSession, within: timedelta, now: datetime | None = None
) -> list[ProcessHeartbeat]:
    """Every process that beat within ``within`` of ``now``, oldest start first."""
    since = (now or utcnow()) - within
    rows = await session.execute(
        select(ProcessHeartbeat)
        .where(ProcessHeartbeat.last_beat >= since)
        .order_by(ProcessHeartbeat.started_at, ProcessHeartbeat.id)
    )
    return list(rows.scalars())


def check_roles(processes: Sequence[ProcessHeartbeat], roles: Sequence[Role]) -> list[RoleCheck]:
    checks = []
    for role in roles:
        alive = [process for process in processes if str(role) in process.roles]
        progressing = [process for process in alive if not failing_components(process, role)]
        checks.append(RoleCheck(role, alive, progressing))
    return checks
