"""Child processes for the duty tests: a scheduler on a file clock, or a sweep that hangs half way.

``python -m tests.exchange.duty_child scheduler DB_URL DIR``: run every duty's scheduler until SIGTERM; the
clock is the ISO timestamp in ``DIR/clock``. ``… sweep-hang DB_URL DIR NAME``: sweep, but hang (after writing
``DIR/hanging``) when deleting the endpoint copy named NAME, so the test can SIGKILL the sweep mid-way.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

from connectors.base import Jurisdiction, StoredObject
from connectors.local import LocalConnector
from connectors.options import SecretRef
from exchange.blobs.local import LocalBlobStore
from exchange.duties.scheduler import DutyConfig, DutyContext, DutyRunner, run_duties
from exchange.retention.sweep import Sweeper
from exchange.supervision import Health, supervise
from ledger.db import create_engine, session_factory
from ledger.tlog.checkpoint import load_key_file


class HangingConnector(LocalConnector):
    def __init__(self, root: Path, hang_on: str, marker: Path) -> None:
        super().__init__("outbox", Jurisdiction("jp", "tokyo"), root=root)
        self.hang_on = hang_on
        self.marker = marker

    async def delete(self, obj: StoredObject) -> None:
        if obj.name == self.hang_on:
            self.marker.write_text("hanging")
            await asyncio.Event().wait()
        await super().delete(obj)


def context(db_url: str, directory: Path) -> DutyContext:
    config = DutyConfig(
        signing_key=SecretRef(file=directory / "ledger-signing.key"), ledger_origin="test.handover/ledger"
    )
    clock_file = directory / "clock"
    return DutyContext(
        session_factory(create_engine(db_url)),
        {},
        config,
        LocalBlobStore(directory / "store"),
        clock=lambda: datetime.fromisoformat(clock_file.read_text().strip()),
    )


async def run_scheduler(db_url: str, directory: Path) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # The hub's own way: the duty loop under the supervisor.
    duties = asyncio.create_task(
        supervise("duties", partial(run_duties, DutyRunner(context(db_url, directory)), 0.05), Health())
    )
    await stop.wait()
    duties.cancel()
    await asyncio.gather(duties, return_exceptions=True)


async def sweep_and_hang(db_url: str, directory: Path, name: str) -> None:
    ctx = context(db_url, directory)
    connector = HangingConnector(directory / "outbox", name, directory / "hanging")
    sweeper = Sweeper(
        ctx.sessions,
        {"outbox": connector},
        blobs=ctx.blobs,
        signing_key=load_key_file(directory / "ledger-signing.key"),
    )
    await sweeper.sweep(ctx.clock())


if __name__ == "__main__":
    mode, url, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if mode == "scheduler":
        asyncio.run(run_scheduler(url, folder))
    else:
        asyncio.run(sweep_and_hang(url, folder, sys.argv[4]))
