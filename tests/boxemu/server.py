"""The emulator's aiohttp application, its fault injection and a runner on a background thread.

URL layout follows ``BaseUrls(base_url=ROOT, upload_url=ROOT + "/api", oauth_2_url=ROOT + "/oauth2")``:
API calls under ``/2.0``, uploads under ``/api/2.0``, the token endpoint at ``/oauth2/token``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.boxemu import auth, collaborations, files, folders, trash, upload_sessions
from tests.boxemu.state import STATE_KEY, BoxState, Fault, RecordedRequest, box_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FAULT_CODES = {
    429: ("rate_limit_exceeded", "Request rate limit exceeded, please try again later"),
    500: ("internal_server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("unavailable", "Unavailable"),
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
# Headers that carry the integrity checks tests look for; never Authorization.
_RECORDED_HEADERS = ("Content-MD5", "Digest", "Content-Range")


def _fault_response(fault: Fault) -> web.Response:
    code, message = _FAULT_CODES.get(fault.status, ("error", "Injected failure"))
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    return box_error(fault.status, code, message, headers=headers)


def _dropped(request: web.Request) -> web.Response:
    """Cut the connection: the client gets no answer at all (what it sent may or may not have been done)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)  # never reaches the client


async def _recorded_body(request: web.Request) -> Any:
    """JSON bodies are kept so tests can inspect what the connector asked for (never the token form)."""
    if request.content_type != "application/json" or not request.can_read_body:
        return None
    try:
        return await request.json()
    except ValueError:
        return None


@web.middleware
async def box_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    body = await _recorded_body(request)
    if state.cut_off(request.method, request.path, handled=False):
        return _dropped(request)
    fault = state.take_fault(request.method, request.path, after_handling=False)
    response: web.StreamResponse
    if fault is not None:
        response = _fault_response(fault)
    elif not request.path.startswith("/oauth2/") and not auth.authorized(request):
        response = auth.unauthorized()
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = box_error(exc.status, _HTTP_CODES.get(exc.status, "bad_request"), exc.reason)
        late = state.take_fault(request.method, request.path, after_handling=True)
        if late is not None:
            response = _fault_response(late)
        if state.cut_off(request.method, request.path, handled=True):
            return _dropped(request)
    with state.lock:
        state.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                request.query_string,
                response.status,
                body,
                {name: request.headers[name] for name in _RECORDED_HEADERS if name in request.headers},
            )
        )
    return response


def create_app(state: BoxState) -> web.Application:
    app = web.Application(middlewares=[box_middleware])
    app[STATE_KEY] = state
    for module in (auth, folders, files, trash, upload_sessions, collaborations):
        app.router.add_routes(module.routes)
    return app


class BoxEmulator:
    """A Box API emulator on 127.0.0.1, served by its own event loop so synchronous SDK calls can reach it."""

    def __init__(
        self,
        storage: Path,
        *,
        client_id: str = "emulator-client-id",
        client_secret: str = "emulator-client-secret",
        enterprise_id: str = "900001",
        part_size: int = 8 * 1024 * 1024,
        token_ttl: int = 3600,
    ) -> None:
        self.state = BoxState(
            storage,
            client_id=client_id,
            client_secret=client_secret,
            enterprise_id=enterprise_id,
            part_size=part_size,
            token_ttl=token_ttl,
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="box-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the Box emulator did not start")

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._socket.close()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        runner = web.AppRunner(create_app(self.state))
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, self._socket).start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        retry_after: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` before doing anything."""
        with self.state.lock:
            self.state.faults.append(Fault(count, status, retry_after, method, path, after_handling=False))

    def fail_after_handling(
        self, count: int, status: int = 500, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Do what the next ``count`` matching requests ask, then answer ``status`` (the answer is lost)."""
        with self.state.lock:
            self.state.faults.append(Fault(count, status, None, method, path, after_handling=True))

    def partition_after(self, *, method: str | None = None, path: str | None = None) -> None:
        """Handle the next matching request, then drop its answer and every connection until ``heal``."""
        with self.state.lock:
            self.state.partition_after = (method, path)

    def heal(self) -> None:
        with self.state.lock:
            self.state.partitioned = False

    def expire_tokens(self, after_requests: int = 0) -> None:
        """Invalidate every issued token once ``after_requests`` more API requests have been served."""
        with self.state.lock:
            if after_requests == 0:
                self.state.tokens.clear()
            else:
                self.state.expire_tokens_after = after_requests

    def require_commit_polling(self, times: int, retry_after: str = "1") -> None:
        """Answer the next ``times`` commits with 202 and ``Retry-After`` (parts still processing)."""
        with self.state.lock:
            self.state.commit_polls = times
            self.state.commit_retry_after = retry_after

    def add_user(self, login: str) -> None:
        """A Box user: collaborations for this login are accepted at once instead of pending."""
        with self.state.lock:
            self.state.users[login.casefold()] = self.state.new_id()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)
