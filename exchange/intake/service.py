"""Runs intake: watches every route's folder, queues stable files, and keeps workers stepping the queue.

watchfiles only wakes us up early; correctness rests on the periodic rescan, so a change missed by the
watcher (SMB shares without inotify, the hub being down) is still found at the next look.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import watchfiles
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.intake.pipeline import Pipeline
from exchange.intake.stability import StabilityTracker
from exchange.settings import IntakeSettings
from ledger.models import Route

log = logging.getLogger(__name__)


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

    async def routes(self) -> list[Route]:
        async with self.sessions() as session:
            rows = await session.execute(select(Route).options(selectinload(Route.targets)))
            return list(rows.scalars())

    async def scan_once(self) -> bool:
        """Look at every folder once; True when some file is still being written."""
        unsettled_any = False
        for route in await self.routes():
            folder = Path(route.watch_dir)
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            ready, unsettled = await asyncio.to_thread(self.tracker.look, folder)
            unsettled_any = unsettled_any or unsettled
            for item in ready:
                if await self.pipeline.enqueue(route, item) is not None:
                    log.info("queued a file from route %s", route.code)
                    self._work.set()
        return unsettled_any

    async def scan_loop(self) -> None:
        while True:
            unsettled = await self.scan_once()
            self._wake.clear()
            timeout = max(self.settings.quiet_seconds / 4, 0.1) if unsettled else self.settings.rescan_seconds
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def watch_loop(self) -> None:
        routes = await self.routes()
        groups: dict[bool, list[str]] = {}
        for route in routes:
            await asyncio.to_thread(Path(route.watch_dir).mkdir, parents=True, exist_ok=True)
            groups.setdefault(route.force_polling, []).append(route.watch_dir)
        await asyncio.gather(*(self._watch(paths, polling) for polling, paths in groups.items()))

    async def _watch(self, paths: Sequence[str], polling: bool) -> None:
        async for _changes in watchfiles.awatch(*paths, force_polling=polling, recursive=False, debounce=200):
            self._wake.set()

    async def work_loop(self) -> None:
        while True:
            try:
                busy = await self.pipeline.run_once()
            except Exception:
                log.exception("a pipeline step failed; it will be retried when its lease expires")
                busy = False
            if not busy:
                self._work.clear()
                try:
                    await asyncio.wait_for(self._work.wait(), 1.0)
                except TimeoutError:
                    pass

    async def run(self) -> None:
        tasks = [self.scan_loop(), self.watch_loop()] + [self.work_loop() for _ in range(self.settings.workers)]
        await asyncio.gather(*tasks)
