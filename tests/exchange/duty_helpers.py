"""Shared set-up for the duty tests: demo data, packages as the pipeline leaves them, a movable clock."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.base import Connector
from exchange.admin.data_import import import_files
from exchange.duties.scheduler import DutyConfig, DutyContext, DutyRunner
from ledger.db import session_factory
from ledger.models.contracts import Contract
from ledger.models.duties import DutyRun
from ledger.models.packages import Package, PackageStatus
from ledger.tlog.checkpoint import generate_key_file

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def load_demo(sessions: async_sessionmaker[AsyncSession], base: Path) -> None:
    async with sessions() as session, session.begin():
        await import_files(session, sorted(DEMO.glob("*.toml")), base_dir=base)


async def add_package(
    session: AsyncSession,
    contract_code: str,
    store: Path,
    *,
    delivered_at: datetime | None,
    acknowledged_at: datetime | None = None,
    location: dict[str, str] | None = None,
    connector: str = "outbox",
    name: str | None = None,
) -> Package:
    contract = (await session.execute(select(Contract).where(Contract.code == contract_code))).scalar_one()
    data = f"encrypted zip for {contract_code} {name}".encode()
    store.mkdir(parents=True, exist_ok=True)
    zip_name = name or f"{contract_code}-{len(list(store.iterdir()))}.zip"
    path = store / zip_name
    path.write_bytes(data)
    package = Package(
        contract_id=contract.id,
        status=PackageStatus.DELIVERED if delivered_at else PackageStatus.SEALED,
        zip_name=zip_name,
        store_path=str(path),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content={"files": [{"name": "data.csv", "size": 10, "sha256": "0" * 64, "records": 3}]},
        sealed_password=b"sealed-secret",
        key_id="k1",
        connector=connector,
        delivered_via=connector if delivered_at else None,
        location=location,
        delivered_at=delivered_at,
        acknowledged_at=acknowledged_at,
    )
    session.add(package)
    await session.flush()
    return package


def duty_context(
    engine: AsyncEngine, tmp_path: Path, clock: Clock, connectors: Mapping[str, Connector] | None = None
) -> DutyContext:
    key_path = tmp_path / "ledger-signing.key"
    if not key_path.exists():
        generate_key_file(key_path, "test.handover/ledger")
    config = DutyConfig(
        certificates_dir=tmp_path / "certificates", signing_key_path=key_path, ledger_origin="test.handover/ledger"
    )
    return DutyContext(session_factory(engine), connectors or {}, config, clock=clock)


def jst(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=9)


async def run_due(runner: DutyRunner) -> list[DutyRun]:
    """Every due duty once, in order, as one round of the scheduler's ticks would run them."""
    return [run for name in runner.duties if (run := await runner.run_if_due(name)) is not None]
