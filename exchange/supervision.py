"""The one supervisor of the hub's background loops, and the health each loop reports to ``/healthz``.

``Health`` also knows which roles (``exchange.roles``) its process runs; ``report()`` is the one JSON shape of the
loops' states, which ``/healthz`` answers and each process's heartbeat row (``exchange.heartbeats``) keeps.

A loop that raises is logged with its traceback, marked failing (since when, with a message staff can read), and
started again after a back-off that grows while it keeps failing. A loop reports progress with ``beat()`` after
each good round; the first beat after a failure marks it healthy again. Cancellation (the hub stopping) passes
through untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from exchange.roles import ALL_ROLES, Role
from ledger.models.base import utcnow
from ledger.wareki import format_jst

log = logging.getLogger(__name__)

Beat = Callable[[], None]
LoopFactory = Callable[[Beat], Awaitable[None]]

# What staff read for each component (the machine keys stay the component names).
COMPONENT_NAMES_JA = {
    "intake.scan": "受渡しフォルダの確認",
    "intake.watch": "受渡しフォルダの監視",
    "intake.work": "取り込み処理",
    "duties": "定期処理",
    "heartbeat": "稼働状況の記録",
    "ledger.sequence": "管理簿への記録",
}


@dataclass
class ComponentState:
    failing_since: datetime | None = None
    error_ja: str | None = None
    restarts: int = 0

    @property
    def ok(self) -> bool:
        return self.failing_since is None


class Health:
    """What every supervised loop last reported; read by ``/healthz``."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, roles: tuple[Role, ...] = ALL_ROLES) -> None:
        self.clock = clock
        self.roles = roles
        self._components: dict[str, ComponentState] = {}

    def register(self, name: str) -> None:
        self._components.setdefault(name, ComponentState())

    def ok(self, name: str) -> None:
        state = self._components.setdefault(name, ComponentState())
        if not state.ok:
            log.info("background loop %s recovered", name)
        state.failing_since = None
        state.error_ja = None

    def failing(self, name: str, error_ja: str) -> None:
        state = self._components.setdefault(name, ComponentState())
        if state.failing_since is None:
            state.failing_since = self.clock()
        state.error_ja = error_ja
        state.restarts += 1

    def snapshot(self) -> dict[str, ComponentState]:
        return {name: ComponentState(s.failing_since, s.error_ja, s.restarts) for name, s in self._components.items()}

    @property
    def all_ok(self) -> bool:
        return all(state.ok for state in self._components.values())

    def report(self) -> dict[str, dict[str, Any]]:
        """Each loop's state as JSON: machine keys in English; ``error`` and ``since_jst`` are for people."""
        components: dict[str, dict[str, Any]] = {}
        for name, state in sorted(self.snapshot().items()):
            if state.failing_since is None:
                components[name] = {"status": "ok", "restarts": state.restarts}
            else:
                components[name] = {
                    "status": "failing",
                    "since": state.failing_since.astimezone(UTC).isoformat(),
                    "since_jst": format_jst(state.failing_since, seconds=True),
                    "error": state.error_ja,
                    "restarts": state.restarts,
                }
        return components


@dataclass(frozen=True)
class Backoff:
    # The ceiling bounds how long intake stays stopped after its cause is gone (a database back after an outage
    # of any length is used again within 30 s), while a loop that keeps failing logs only twice a minute.
    first: float = 1.0
    factor: float = 2.0
    ceiling: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.first * self.factor ** max(failures - 1, 0), self.ceiling)


def database_is_away(exc: BaseException) -> bool:
    """An error no file and no single record can cause: the database or the connection to it failed.

    asyncpg's server-side errors (a server shutting down: ``AdminShutdownError``) reach us as plain ``DBAPIError``;
    a refused connection is a ``ConnectionError``. Only a constraint or a value that a file brought in is the
    file's own fault. Loops let these through to the supervisor instead of blaming (setting aside) the file.
    """
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError)


def _message_ja(name: str, exc: BaseException, failures: int) -> str:
    label = COMPONENT_NAMES_JA.get(name.split("#")[0], name)
    if database_is_away(exc):
        cause = "データベースに接続できないか、応答がありません"
    elif isinstance(exc, OSError):
        cause = "ファイルの読み書きに失敗しました"
    else:
        cause = "予期しないエラーが発生しました"
    return (
        f"{label}が異常終了しました（{cause}）。"
        f"自動で再起動しています（連続{failures}回目）。詳細はログを参照してください。"
    )


async def supervise(name: str, loop: LoopFactory, health: Health, backoff: Backoff = Backoff()) -> None:
    """Run ``loop`` for ever: restart it (after a back-off) whenever it raises or returns."""
    health.register(name)
    failures = 0

    def beat() -> None:
        nonlocal failures
        failures = 0
        health.ok(name)

    while True:
        try:
            await loop(beat)
            raise RuntimeError("the loop returned")  # loops run for ever: returning is a failure too
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            log.exception("background loop %s failed (%d in a row); restarting", name, failures)
            health.failing(name, _message_ja(name, exc, failures))
        await asyncio.sleep(backoff.delay(failures))
