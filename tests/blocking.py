"""Guards for async tests: our code must not block the event loop, neither by a blocking call nor by long work.

``no_blocking_calls`` (blockbuster) catches any blocking call however short (a ``mkdir``, a file read, a socket
wait); ``no_slow_callbacks`` (CPU time per loop callback) catches long CPU work that calls nothing blocking (Argon2, a
PDF render). The fix is to move the work to a thread (``asyncio.to_thread``). A test that blocks on purpose says
why with ``@pytest.mark.allow_blocking("reason")``, which turns both guards off for it.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from blockbuster import blockbuster_ctx


def _reason_of(request: pytest.FixtureRequest) -> str | None:
    """The reason an ``allow_blocking`` test gives, or None when it is not so marked; a bare marker is an error."""
    marker = request.node.get_closest_marker("allow_blocking")
    if marker is None:
        return None
    reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        pytest.fail('@pytest.mark.allow_blocking needs a reason: allow_blocking("why this test blocks")', pytrace=False)
    return reason


# The code under watch: a blocking call fails the test when one of these packages is on the call stack. The tests'
# own set-up (writing an input file, reading a result back) is not watched: it is not what runs in production.
_WATCHED = ["exchange", "ledger", "connectors", "policies"]
# Blocking on the loop's thread that is not ours to move, allowed only below these functions (file, functions).
_ALLOWED: list[tuple[str, set[str]]] = [
    # Alembic's commands are synchronous: migrations run once, at set-up, through run_sync (Alembic's asyncio recipe).
    ("alembic/command.py", {"upgrade", "downgrade"}),
    # asyncpg reads its client files (~/.pgpass, ~/.postgresql/) while it parses the arguments of each new
    # connection; SQLAlchemy's pool makes connections on demand.
    ("asyncpg/connect_utils.py", {"_parse_connect_dsn_and_args"}),
    # Creating an engine is synchronous set-up in SQLAlchemy (it resolves a SQLite file's path); ours also makes
    # that file's folder. A process creates its engine once, at start.
    ("ledger/db.py", {"create_engine"}),
    # The portal is made once, before it serves: aiohttp resolves its static folder, Jinja compiles the templates.
    ("exchange/web/app.py", {"create_app"}),
    # A log line goes to stderr from wherever it is logged: the hub's logging is a stream handler by design.
    ("logging/__init__.py", {"emit"}),
]


@pytest.fixture(autouse=True)
def no_blocking_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail an async test when our code makes any blocking call (file, socket, sleep, lock) on the event loop.

    ``blockbuster`` wraps the blocking functions of the standard library and raises ``BlockingError`` when one
    is called on a thread that runs an event loop with one of ``_WATCHED`` on the stack, however short the call.
    Work moved to a thread (``asyncio.to_thread``) is not on the loop's thread, so it passes.
    """
    if _reason_of(request) is not None or not inspect.iscoroutinefunction(request.function):
        yield
        return
    with blockbuster_ctx(_WATCHED) as buster:
        for wrapped in buster.functions.values():
            for filename, callers in _ALLOWED:
                wrapped.can_block_in(filename, callers)
        yield


# The CPU one callback may spend on the loop's thread, in units of a reference loop measured in the same run: about
# a second on the machine these tests were written on, more on a slower or busier one, so that the bar is "a
# second's work here" and not "a second of whatever the CI machine's clock counts" (a virtual machine's CPU clock
# also counts time the host gave to others).
_SLOW_CALLBACK_REFERENCE_UNITS = 30
_REFERENCE_ITERATIONS = 750_000  # about 33 ms of CPU here


def reference_loop() -> int:
    """The unit of CPU work the slow-callback bar is measured in."""
    total = 0
    for number in range(_REFERENCE_ITERATIONS):
        total += number * number
    return total


def _reference_seconds() -> float:
    """The CPU time of the reference loop now: the best of three, so one interruption does not count."""
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        reference_loop()
        best = min(best, time.thread_time() - started)
    return best


_reference_at_start: list[float] = []


class _CollectorClock:
    """CPU time the garbage collector has spent on one thread, while installed in ``gc.callbacks``.

    A full collection walks every object the process holds; late in a long test run that is seconds of CPU, and it
    lands in whichever callback happened to allocate. It is the interpreter's work, not our code holding the loop,
    so the slow-callback guard subtracts it.
    """

    def __init__(self, thread: int) -> None:
        self._thread = thread
        self._started = 0.0
        self.spent = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.spent += time.thread_time() - self._started


def _slow_callback_bar() -> float:
    """CPU seconds a callback may use, from the reference measured once per run (at the first async test)."""
    if not _reference_at_start:
        _reference_at_start.append(_reference_seconds())
    return _SLOW_CALLBACK_REFERENCE_UNITS * _reference_at_start[0]


@pytest.fixture(autouse=True)
async def no_slow_callbacks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test whose code holds the event loop for about a second of CPU work (Argon2, a PDF render) that
    ``no_blocking_calls`` cannot see, since it calls nothing that blocks; the bar is
    ``_SLOW_CALLBACK_REFERENCE_UNITS`` times a reference loop timed in the same run.

    Each callback's cost is the CPU time of the loop's thread (``time.thread_time``), not the wall time asyncio's
    debug mode reports: on a busy machine, or while a packing thread holds the GIL, a callback that did little
    work can wait a second for the CPU, and that is not our code blocking the loop. asyncio's debug mode is left
    off: it records a stack trace (reading source files through ``linecache``) for every future and callback,
    which was itself most of the CPU some callbacks spent on a loaded machine. The garbage collector's time is not
    counted (``_CollectorClock``): a full collection late in a long run costs seconds wherever it falls. A
    coroutine never awaited still fails the test (its RuntimeWarning is an error). A test that blocks on purpose
    says why with ``@pytest.mark.allow_blocking("reason")``.
    """
    if _reason_of(request) is not None:
        yield
        return
    loop = asyncio.get_running_loop()
    slow: list[str] = []
    bar = _slow_callback_bar()
    original_run = asyncio.events.Handle._run
    collector = _CollectorClock(threading.get_ident())

    def measured_run(handle: asyncio.events.Handle) -> None:
        if handle._loop is not loop:  # type: ignore[attr-defined]
            original_run(handle)
            return
        started, collected_before = time.thread_time(), collector.spent
        original_run(handle)
        spent = time.thread_time() - started - (collector.spent - collected_before)
        if spent < bar:
            return
        # Over the bar measured at the start: measure the reference again, since the machine may be slower now
        # (another process's load, a host that lends our CPU to others), and judge against the slower of the two.
        reference_now = _reference_seconds()
        if spent >= _SLOW_CALLBACK_REFERENCE_UNITS * reference_now:
            slow.append(
                f"{handle!r} used {spent:.3f} s of CPU, over {_SLOW_CALLBACK_REFERENCE_UNITS} times the reference"
                f" loop ({reference_now * 1000:.0f} ms now)"
            )

    asyncio.events.Handle._run = measured_run  # type: ignore[method-assign,assignment]
    gc.callbacks.append(collector)
    try:
        yield
    finally:
        asyncio.events.Handle._run = original_run  # type: ignore[method-assign]
        gc.callbacks.remove(collector)
    if slow:
        pytest.fail("the event loop was held about a second or more: " + "; ".join(slow[:3]), pytrace=False)
