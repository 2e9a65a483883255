"""Runs intake: watches every route's folder, queues stable files, and keeps workers stepping the queue.

watchfiles only wakes us up early; correctness rests on the periodic rescan, so a change missed by the
watcher (SMB shares without inotify, the hub being down) is still found at the next look.

Failures are isolated to the smallest thing that failed: a drop that cannot be queued is set aside (quarantined,
or left with a reason file) and the others go on; a route whose folder cannot be read does not stop the other
routes. The loops themselves run under ``exchange.supervision``, which restarts one that dies and reports it to
``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import watchfiles
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.intake import results as outcome
from exchange.intake.pipeline import Pipeline
from exchange.intake.stability import Ready, StabilityTracker
from exchange.settings import IntakeSettings
from exchange.supervision import Beat, Health, database_is_away, supervise
from ledger.models import Route

log = logging.getLogger(__name__)

SET_ASIDE_REASON_JA = (
    "このファイルの受付中に予期しないエラーが発生したため、処理を止めて隔離しました。システム管理者に連絡してください。"
)


BATCH = 200  # drops recorded per transaction: a burst reaches the workers in steps, not after the last file
MIN_LOOK = 0.02  # seconds: looks never come closer than this, whatever the quiet window


class RouteScanFailed(Exception):
    """Some routes' folders could not be looked at this round (the others were)."""


def _never() -> None:
    pass


class IntakeService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], pipeline: Pipeline, settings: IntakeSettings
    ) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.settings = settings
        self.tracker = StabilityTracker(settings.quiet_seconds)
        self._wake = asyncio.Event()
        self._work = asyncio.Event()
        self._set_aside: set[tuple[int, str]] = set()  # drops already set aside by this process (not retried)
        # Per route, the drops still in its folder that are known to be taken in: looks between two full rescans
        # ask the database only about the others (a full rescan, every ``rescan_seconds``, asks about all).
        self._known: dict[int, set[str]] = {}

    async def routes(self) -> list[Route]:
        async with self.sessions() as session:
            rows = await session.execute(select(Route).options(selectinload(Route.targets)))
            return list(rows.scalars())

    async def scan_once(self, *, full: bool = True) -> float | None:
        """Look at every folder once; in how many seconds a file still being written may be ready (None: none is).

        Not ``full``: drops this process already knows to be taken in are not asked about again."""
        due: float | None = None
        failed: list[str] = []
        for route in await self.routes():
            try:
                wait = await self._scan_route(route, full)
            except Exception as exc:
                if database_is_away(exc):
                    raise
                log.exception("looking at the folder of route %s failed; the other routes go on", route.code)
                failed.append(route.code)
                continue
            if wait is not None:
                due = wait if due is None else min(due, wait)
        if failed:
            raise RouteScanFailed(", ".join(failed))
        return due

    async def _scan_route(self, route: Route, full: bool) -> float | None:
        folder = self.pipeline.folders(route).watch
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        ready, due = await asyncio.to_thread(self.tracker.look, folder)
        ready = [item for item in ready if (route.id, item.identity) not in self._set_aside]
        # Every look (each result file the workers write wakes one) lists the files still queued: those known
        # are passed over, and the database is asked about the others in one query, not a transaction each.
        present = {item.identity for item in ready}
        known = set() if full else self._known.get(route.id, set()) & present
        unknown = [item.identity for item in ready if item.identity not in known]
        if unknown:
            known |= await self.pipeline.known_identities(route, unknown)
        self._known[route.id] = known
        ready = [item for item in ready if item.identity not in known]
        if len(ready) == 1:
            await self._enqueue(route, ready[0])  # one drop: queued on its own, as it always was
            return due
        for start in range(0, len(ready), BATCH):
            batch = ready[start : start + BATCH]
            try:
                queued, one_by_one = await self.pipeline.enqueue_many(route, batch)
            except Exception as exc:
                if database_is_away(exc) or not await self._database_answers():
                    raise
                log.exception("queueing files of route %s together failed; each is tried on its own", route.code)
                queued, one_by_one = [], batch
            if queued:
                known.update(row.source_identity for row in queued if row.source_identity is not None)
                log.info("queued %d files from route %s", len(queued), route.code)
                self._work.set()  # the workers start on this batch while the next one is recorded
            for item in one_by_one:
                await self._enqueue(route, item)
        return due

    async def _enqueue(self, route: Route, item: Ready) -> None:
        try:
            queued = await self.pipeline.enqueue(route, item)
        except Exception as exc:
            if database_is_away(exc) or not await self._database_answers():
                raise  # not the file's fault: the loop fails, is restarted, and queues the file then
            log.exception("queueing a file of route %s failed; the file is set aside", route.code)
            await self._put_aside(route, item)
            return
        if queued is not None:
            log.info("queued a file from route %s", route.code)
            self._work.set()

    async def _database_answers(self) -> bool:
        """Whether the database works right now: a file is set aside only for a failure the database did not cause."""
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            log.warning("the database does not answer; no file is set aside while it is away", exc_info=True)
            return False
        return True

    async def _put_aside(self, route: Route, item: Ready) -> None:
        self._set_aside.add((route.id, item.identity))
        shown = outcome.display_name(item.path.name)
        try:
            await outcome.set_aside(self.pipeline.folders(route), item.path, shown, None, SET_ASIDE_REASON_JA)
        except OSError:
            log.exception("a file of route %s could not be set aside either; it is left where it is", route.code)

    async def scan_loop(self, beat: Beat = _never) -> None:
        loop = asyncio.get_running_loop()
        last_full = -math.inf
        while True:
            full = loop.time() - last_full >= self.settings.rescan_seconds
            last_full = loop.time() if full else last_full
            due = await self.scan_once(full=full)
            beat()
            self._wake.clear()
            # A file still being written is looked at again just when its quiet window may have passed.
            timeout = self.settings.rescan_seconds
            if due is not None:
                timeout = min(max(due, MIN_LOOK), timeout)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def watch_loop(self, beat: Beat = _never) -> None:
        routes = await self.routes()
        groups: dict[bool, list[Path]] = {}
        for route in routes:
            folder = self.pipeline.folders(route).watch
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            groups.setdefault(route.force_polling, []).append(folder)
        beat()
        await asyncio.gather(*(self._watch(paths, polling) for polling, paths in groups.items()))
        await asyncio.Event().wait()  # no routes to watch: the rescan alone does the work

    async def _watch(self, paths: Sequence[Path], polling: bool) -> None:
        async for _changes in watchfiles.awatch(*paths, force_polling=polling, recursive=False, debounce=200):
            self._wake.set()

    async def work_loop(self, beat: Beat = _never) -> None:
        worker = self.pipeline.worker()  # this task's own holder name: its claims are told apart from the others'
        while True:
            try:
                busy = await self.pipeline.run_once(worker)
            except Exception as exc:
                if database_is_away(exc):
                    raise  # the database is away: the supervisor reports it and retries after a back-off
                log.exception("a pipeline step failed; it will be retried when its lease expires")
                busy = False
            beat()
            if not busy:
                self._work.clear()
                try:
                    await asyncio.wait_for(self._work.wait(), 1.0)
                except TimeoutError:
                    pass

    async def run(self, health: Health | None = None) -> None:
        """Every loop, each under the supervisor (restarted when it dies, reported to ``health``)."""
        health = health or Health()
        loops = [supervise("intake.scan", self.scan_loop, health), supervise("intake.watch", self.watch_loop, health)]
        loops += [supervise(f"intake.work#{n}", self.work_loop, health) for n in range(1, self.settings.workers + 1)]
        await asyncio.gather(*loops)
