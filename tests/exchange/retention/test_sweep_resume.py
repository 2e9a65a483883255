"""A sweep killed with SIGKILL half way resumes and finishes with one certificate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from connectors.local import LocalConnector
from exchange.retention.sweep import Sweeper
from ledger.db import create_engine
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package, PackageStatus
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate, HubDeletionItem
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context
from tests.factories import TOKYO, add_package, load_demo

ROOT = Path(__file__).resolve().parents[3]


async def test_sweep_killed_mid_way_resumes_with_one_certificate(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    clock = Clock(jst(2026, 9, 1))
    (tmp_path / "clock").write_text(clock().isoformat())
    (tmp_path / "outbox").mkdir()
    outbox = LocalConnector("outbox", TOKYO, root=tmp_path / "outbox")
    ctx = await duty_context(engine, tmp_path, clock, {"outbox": outbox})
    names = []
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        for code in ("s1-main", "s1-print", "s1-main"):
            package = await add_package(
                session, code, store=tmp_path / "store", delivered_at=jst(2026, 7, 1), acknowledged_at=jst(2026, 7, 2)
            )
            stored = await outbox.put(code, package.zip_name, tmp_path / "store" / package.blob_key, {})
            package.location = {"connector": "outbox", "folder": stored.folder, "location": stored.location}
            names.append(package.zip_name)

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.exchange.duty_child", "sweep-hang", db_url, str(tmp_path), names[1]],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "hanging").exists():
            assert child.poll() is None, "the sweep ended before reaching the second package"
            assert time.monotonic() < deadline, "the sweep never reached the second package"
            await asyncio.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        await asyncio.to_thread(child.wait, 30)

    async with ctx.sessions() as session:
        done = await session.scalar(select(func.count()).where(HubDeletionItem.erased_at.is_not(None)))
        assert done == 1  # killed after the first package, before the certificate
        assert await session.scalar(select(HubDeletionCertificate.status)) == HubCertificateStatus.OPEN

    assert ctx.blobs is not None
    sweeper = Sweeper(
        ctx.sessions,
        {"outbox": outbox},
        blobs=ctx.blobs,
        signing_key=await ctx.signing_key(),
    )
    result = await sweeper.sweep(clock())
    assert result.issued is not None and result.erased == 2
    assert (await sweeper.sweep(clock())).issued is None
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HubDeletionCertificate)) == 1
        statuses = (await session.scalars(select(Package.status))).all()
        assert statuses == [PackageStatus.DELETED] * 3
        kinds = (await session.scalars(select(LedgerEntry.kind))).all()
        assert kinds.count("package.erased") == 3 and kinds.count("certificate.hub_issued") == 1
    assert list((tmp_path / "outbox").rglob("*.zip")) == []
    await engine.dispose()
