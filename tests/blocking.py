"""Guards for async tests: our code must not block the event loop, neither by a blocking call nor by long work.

``no_blocking_calls`` (blockbuster) catches any blocking call however short (a ``mkdir``, a file read, a socket
wait); ``no_slow_callbacks`` (asyncio's debug mode) catches long CPU work that calls nothing blocking (Argon2, a
PDF render). The fix is to move the work to a thread (``asyncio.to_thread``). A test that blocks on purpose says
why with ``@pytest.mark.allow_blocking("reason")``, which turns both guards off for it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
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


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Executing "):
            self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
async def no_slow_callbacks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test whose code holds the event loop for a second: CPU work (Argon2, a PDF render) that
    ``no_blocking_calls`` cannot see, since it calls nothing that blocks.

    asyncio's debug mode reports every callback that holds the loop longer than ``slow_callback_duration``;
    the threshold is generous so that only real blocking, not a busy machine, trips it. A test that blocks on
    purpose says why with ``@pytest.mark.allow_blocking("reason")``.
    """
    if _reason_of(request) is not None:
        yield
        return
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 1.0
    handler = _SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        pytest.fail("the event loop was held over a second: " + "; ".join(handler.messages[:3]), pytrace=False)
