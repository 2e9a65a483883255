"""Time in tests: a movable clock to inject, a frozen wall clock, and Japan-time instants written plainly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import time_machine


@dataclass
class Clock:
    """A clock to hand to code that takes one (``clock=``): it shows ``now`` until the test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def jst(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """That hour in Japan, as the aware UTC instant the database stores."""
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=9)


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Stand still at ``moment``, for code that reads the wall clock itself (register lines take no ``at``)."""
    with time_machine.travel(moment.astimezone(UTC), tick=False):
        yield
