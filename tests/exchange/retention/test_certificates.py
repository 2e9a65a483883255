"""Contractors' certificates: coverage over the contract family; the demo data past a contract's end."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.local import LocalConnector
from exchange.duties.scheduler import DutyRunner
from exchange.retention import contractor_certificates as contractor_certs
from exchange.retention import hub_certificate_files as certificate_files
from exchange.retention.contractor_certificates import Submission, SubmissionRefused
from ledger.models.contracts import Contract
from ledger.models.duties import DutyNotice, NoticeAudience
from ledger.models.retention import CertificateRequest, ErasureMethod
from ledger.reports import deletion
from ledger.tlog.checkpoint import load_key_file
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context, run_due
from tests.exchange.retention.facts import FACTS
from tests.factories import TOKYO, add_package, load_demo


def form(*package_ids: str) -> Submission:
    return Submission(
        package_ids, ErasureMethod.PURGE, date(2027, 4, 2), "業務用PC内蔵SSD", "見本 一郎", "見本 二郎", **FACTS
    )


async def test_coverage_detects_a_missing_package_and_a_missing_subcontractor(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock(jst(2027, 4, 2))
    ctx = await duty_context(db_engine, tmp_path, clock)
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        first, second = [
            await add_package(session, "s1-main", store=tmp_path / "store", delivered_at=jst(2026, 8, 1))
            for _ in range(2)
        ]
        printed = await add_package(session, "s1-print", store=tmp_path / "store", delivered_at=jst(2026, 8, 3))
        await add_package(session, "s1-main", store=tmp_path / "store", delivered_at=None)  # never delivered
        main = (await session.scalars(select(Contract).where(Contract.code == "s1-main"))).one()
        created, _ = await contractor_certs.request_certificates(
            session, main, clock(), reason="on_demand", due_days=30
        )
        assert sorted(r.contract_id for r in created) == [main.id, printed.contract_id]
        main_request = next(r for r in created if r.contract_id == main.id)

        with pytest.raises(SubmissionRefused):
            await contractor_certs.submit(session, main_request.public_id, form(printed.public_id), clock())
        partial = await contractor_certs.submit(session, main_request.public_id, form(first.public_id), clock())
        assert {line.package_id for line in partial.missing} == {second.public_id, printed.public_id}
        assert partial.missing_parties == ["株式会社見本情報サービス", "見本印刷株式会社"]
        assert main_request.completed_at is None

        rest = await contractor_certs.submit(session, main_request.public_id, form(second.public_id), clock())
        assert [line.package_id for line in rest.missing] == [printed.public_id]
        assert rest.missing_parties == ["見本印刷株式会社"] and not rest.complete
        assert main_request.completed_at == clock()


async def test_demo_past_contract_end_certifies_requests_reminds_and_escalates(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    (tmp_path / "outbox").mkdir()
    outbox = LocalConnector("outbox", TOKYO, root=tmp_path / "outbox")
    clock = Clock(jst(2026, 8, 1))
    ctx = await duty_context(db_engine, tmp_path, clock, {"outbox": outbox})
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        packages = []
        for code in ("s1-main", "s1-print"):
            package = await add_package(session, code, store=tmp_path / "store", delivered_at=jst(2026, 8, 1))
            stored = await outbox.put(code, package.zip_name, tmp_path / "store" / package.blob_key, {})
            package.location = {"connector": "outbox", "folder": stored.folder, "location": stored.location}
            packages.append(package)
    runner = DutyRunner(ctx)
    await run_due(runner)

    clock.now = jst(2027, 4, 15, 1)  # past 2027-03-31 plus the 14 days' grace
    runs = {run.name: run.result for run in await run_due(runner)}
    number = runs["retention.sweep"]["issued"]
    assert number is not None and runs["certificates.reminders"]["requested"] == 2  # S4 ended too, but received nothing
    async with ctx.sessions() as session:  # the duty kept the files in the blob store, hashes on the row
        issued = await certificate_files.find_issued(session, number)
    document = await certificate_files.read_file(ctx.blobs, issued, "json")
    verifier = (await asyncio.to_thread(load_key_file, tmp_path / "ledger-signing.key")).verifier
    signature = (await certificate_files.read_file(ctx.blobs, issued, "sig")).decode().strip()
    assert verifier.verify(document, base64.b64decode(signature, validate=True))
    assert {p["package_id"] for p in json.loads(document)["packages"]} == {p.public_id for p in packages}
    assert (await certificate_files.read_file(ctx.blobs, issued, "pdf")).startswith(b"%PDF")

    async def notices(kind: str) -> list[DutyNotice]:
        async with ctx.sessions() as session:
            return list((await session.scalars(select(DutyNotice).where(DutyNotice.kind == kind))).all())

    async with ctx.sessions() as session:
        requests = (await session.scalars(select(CertificateRequest))).all()
        due = requests[0].due_at
    assert len(await notices("certificate.requested")) == 2
    clock.now = due - timedelta(days=3)
    await run_due(runner)
    assert len(await notices("certificate.reminder")) == 2
    assert await notices("certificate.overdue") == []

    async with ctx.sessions() as session, session.begin():
        main = next(r for r in requests if r.contract_id == packages[0].contract_id)
        await contractor_certs.submit(session, main.public_id, form(packages[0].public_id), clock())
    clock.now = due + timedelta(hours=1)
    escalated = {run.name: run.result for run in await run_due(runner)}["certificates.reminders"]["escalated"]
    assert len(escalated) == 1 and main.public_id not in escalated
    overdue = await notices("certificate.overdue")
    assert len(overdue) == 1 and {n.audience for n in overdue} == {NoticeAudience.WARD}
    await run_due(runner)
    clock.now += timedelta(days=1)
    await run_due(runner)
    assert len(await notices("certificate.overdue")) == 1  # escalated once, not on every run

    async with ctx.sessions() as session:
        report = await deletion.build(session, "s1-main", now=clock())
    rows = {section.code: section.rows for section in report.sections}
    assert [row[-1] for row in rows["s1-main"]] == ["完了"]
    assert [(row[0], row[4], row[-1]) for row in rows["s1-print"]] == [(packages[1].zip_name, "未提出", "未了")]
