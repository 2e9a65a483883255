"""Retention: deadlines from business events, a sweep that erases every copy and certifies it once."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.box import BoxConnector
from connectors.local import LocalConnector
from exchange.retention import hub_certificate_files as certificate_files
from exchange.retention.sweep import Sweeper, retention_deadline
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package, PackageStatus
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate
from ledger.tlog.checkpoint import load_key_file
from tests.boxemu import BoxEmulator
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context
from tests.factories import TOKYO, add_package, load_demo


def test_deadline_is_receipt_plus_days_capped_at_contract_end_plus_grace() -> None:
    contract = Contract(ends_on=date(2027, 3, 31), retention_days_after_receipt=30, retention_grace_days=14)
    cap = datetime(2027, 4, 14, 15, tzinfo=UTC)  # 2027-04-15 00:00 JST
    assert retention_deadline(Package(acknowledged_at=jst(2026, 8, 1)), contract) == jst(2026, 8, 31)
    assert retention_deadline(Package(acknowledged_at=jst(2027, 3, 20)), contract) == cap
    assert retention_deadline(Package(acknowledged_at=None), contract) == cap


async def _sweeper(engine: AsyncEngine, tmp_path: Path, clock: Clock, connectors: dict[str, object]) -> Sweeper:
    ctx = await duty_context(engine, tmp_path, clock, connectors)  # type: ignore[arg-type]
    return Sweeper(ctx.sessions, ctx.connectors, signing_key=await ctx.signing_key(), blobs=ctx.blobs)


async def _stored_files(sweeper: Sweeper, number: str) -> dict[str, bytes]:
    """The certificate's files as the blob store holds them, each checked against the hash its row records."""
    async with sweeper.sessions() as session:
        certificate = await certificate_files.find_issued(session, number)
    for suffix in certificate_files.SUFFIXES:
        assert certificate_files.recorded(certificate, suffix)[0] == f"certificates/{certificate.public_id}.{suffix}"
    return {
        suffix: await certificate_files.read_file(sweeper.blobs, certificate, suffix)
        for suffix in ("json", "sig", "pdf")
    }


async def test_sweep_erases_store_and_endpoint_copies_and_issues_one_verifiable_certificate(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    (tmp_path / "outbox").mkdir()
    outbox = LocalConnector("outbox", TOKYO, root=tmp_path / "outbox")
    clock = Clock(jst(2026, 9, 1))
    sweeper = await _sweeper(db_engine, tmp_path, clock, {"outbox": outbox})
    async with sweeper.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        due = await add_package(
            session, "s1-main", store=tmp_path / "store", delivered_at=jst(2026, 8, 1), acknowledged_at=jst(2026, 8, 2)
        )
        stored = await outbox.put("s1-main", due.zip_name, tmp_path / "store" / due.blob_key, {})
        due.location = {"connector": "outbox", "folder": stored.folder, "location": stored.location}
        kept = await add_package(
            session,
            "s1-main",
            store=tmp_path / "store",
            delivered_at=jst(2026, 8, 20),
            acknowledged_at=jst(2026, 8, 21),
        )
    result = await sweeper.sweep(clock())
    assert result.erased == 1 and result.issued is not None
    assert not await asyncio.to_thread((tmp_path / "store" / due.blob_key).exists) and not await outbox.exists(stored)
    assert await asyncio.to_thread((tmp_path / "store" / kept.blob_key).exists)
    async with sweeper.sessions() as session:
        erased = await session.get(Package, due.id)
        assert erased is not None and erased.status == PackageStatus.DELETED and erased.sealed_password is None
        assert (await session.get(Package, kept.id)).status == PackageStatus.DELIVERED  # type: ignore[union-attr]
        kinds = (await session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).all()
        assert kinds.count("package.erased") == 1 and kinds.count("certificate.hub_issued") == 1

    files = await _stored_files(sweeper, result.issued)
    document, signature = files["json"], files["sig"].decode().strip()
    verifier = (await asyncio.to_thread(load_key_file, tmp_path / "ledger-signing.key")).verifier
    assert verifier.verify(document, base64.b64decode(signature, validate=True))
    assert not verifier.verify(document.replace(b"delete", b"keep!!"), base64.b64decode(signature, validate=True))
    assert not verifier.verify(document, bytes(64))
    content = json.loads(document)
    [entry] = content["packages"]
    assert entry["package_id"] == due.public_id and entry["sha256"] == due.sha256
    assert [c["method"] for c in entry["copies"]] == ["logical-delete", "delete-and-purge", "crypto-erase"]
    assert files["pdf"].startswith(b"%PDF")

    again = await sweeper.sweep(clock())
    assert again.issued is None and again.certificate_id is None
    async with sweeper.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HubDeletionCertificate)) == 1


async def test_box_failure_is_retried_and_certificate_waits_for_every_copy(
    db_engine: AsyncEngine,
    tmp_path: Path,
    box_emulator: BoxEmulator,
    box_connector: BoxConnector,
) -> None:
    clock = Clock(jst(2026, 9, 1))
    sweeper = await _sweeper(db_engine, tmp_path, clock, {"box-test": box_connector})
    async with sweeper.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        package = await add_package(
            session,
            "s4-main",
            store=tmp_path / "store",
            delivered_at=jst(2026, 7, 1),
            acknowledged_at=jst(2026, 7, 2),
            connector="box-test",
        )
        stored = await box_connector.put("s4-main", package.zip_name, tmp_path / "store" / package.blob_key, {})
        package.location = {"connector": "box-test", "folder": stored.folder, "location": stored.location}
    box_emulator.fail_next(1000, 500, method="DELETE")

    first = await sweeper.sweep(clock())
    assert first.failed == 1 and first.issued is None and await box_connector.exists(stored)
    async with sweeper.sessions() as session:
        row = await session.get(Package, package.id)
        assert row is not None and row.status != PackageStatus.DELETED and row.sealed_password is not None
        certificate = (await session.scalars(select(HubDeletionCertificate))).one()
        assert certificate.status == HubCertificateStatus.OPEN
    assert [key async for key in sweeper.blobs.keys("certificates/")] == [], "no certificate before every copy is gone"

    with box_emulator.state.lock:
        box_emulator.state.faults.clear()
    clock.advance(timedelta(hours=1))
    second = await sweeper.sweep(clock())
    assert second.issued is not None and second.erased == 1
    assert not await box_connector.exists(stored)
    async with sweeper.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HubDeletionCertificate)) == 1
