"""Incidents freeze packages at once and track the PPC deadlines; access-log findings and their review."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.media import MediaConnector
from exchange.duties.scheduler import DutyRunner
from exchange.identity.authorisation import Principal
from exchange.oversight import access_log_analysis as access_analysis
from exchange.oversight import incident_records, incidents
from ledger.models.audit import AuditEvent
from ledger.models.duties import DutyNotice
from ledger.models.oversight import AccessFinding, IncidentPackage
from ledger.models.packages import Package
from ledger.models.parties import PersonRole
from tests.clock import Clock, jst
from tests.exchange.helpers import duty_context, run_due
from tests.factories import TOKYO, add_package, load_demo, package_file


async def test_incident_freezes_packages_and_reminds_of_report_deadlines(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock(jst(2026, 9, 1))
    ctx = await duty_context(db_engine, tmp_path, clock)
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        package = await add_package(session, "s4-main", store=tmp_path / "store", delivered_at=jst(2026, 8, 1))
        other = await add_package(session, "s4-main", store=tmp_path / "store", delivered_at=jst(2026, 8, 1))
    form = incidents.IncidentForm(
        "USBメモリの紛失",
        "委託先でデータを保存したUSBメモリを紛失",
        "区役 三郎",
        clock(),
        [package.public_id],
        "s4-main",
        wrongful_purpose=True,
    )
    incident = await incidents.open_incident(ctx.sessions, {}, form, clock())
    assert incident.final_due_at - incident.discovered_at == timedelta(days=60)
    async with ctx.sessions() as session:
        assert (await session.get(Package, package.id)).frozen_at == clock()  # type: ignore[union-attr]
        assert (await session.get(Package, other.id)).frozen_at is None  # type: ignore[union-attr]
        pdf = await incident_records.incident_pdf(session, incident)
    assert pdf.startswith(b"%PDF")

    runner = DutyRunner(ctx)
    clock.now = incident.preliminary_due_at + timedelta(minutes=1)
    await run_due(runner)
    async with ctx.sessions() as session, session.begin():
        kinds = (await session.scalars(select(DutyNotice.kind + ":" + DutyNotice.occasion))).all()
        assert kinds == ["incident.preliminary:overdue"]
        await incidents.record_report(
            session, await session.merge(incident), "preliminary", clock(), by="区役 三郎", reference="個情第1号"
        )
    clock.now = incident.final_due_at + timedelta(hours=2)
    result = {r.name: r.result for r in await run_due(runner)}["incidents.deadlines"]
    assert result["overdue"] == [f"{incident.public_id}:final"]


async def test_access_analysis_finds_off_hours_and_failed_login_bursts_and_records_the_review(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = Clock(jst(2026, 9, 2))
    ctx = await duty_context(db_engine, tmp_path, clock)
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        package = await add_package(session, "s4-main", store=tmp_path / "store", delivered_at=jst(2026, 8, 1))
        session.add_all(
            [
                AuditEvent(
                    at=jst(2026, 9, 1, 10),
                    action="package.download",
                    outcome="allowed",
                    object_type="package",
                    object_id=package.public_id,
                    detail={},
                ),
                AuditEvent(
                    at=jst(2026, 9, 1, 23),
                    action="package.download",
                    outcome="allowed",
                    object_type="package",
                    object_id=package.public_id,
                    detail={},
                ),
                *[
                    AuditEvent(
                        at=jst(2026, 9, 1, 12) + timedelta(seconds=i),
                        action="login.failed",
                        outcome="failed",
                        source_ip="192.0.2.9",
                        detail={},
                    )
                    for i in range(5)
                ],
            ]
        )
    hours = ctx.config.business_hours
    first = await access_analysis.analyse(ctx.sessions, clock(), hours=hours)
    assert first["new_findings"] == {"off_hours": 1, "not_designated": 2, "failed_login_burst": 1}
    assert (await access_analysis.analyse(ctx.sessions, clock(), hours=hours))["new_findings"] == {}
    async with ctx.sessions() as session, session.begin():
        officer = Principal(1, "officer", "compliance", PersonRole.COMPLIANCE, person_id=7, person_name="監査 正子")
        review = await access_analysis.review(session, 2026, reviewer=officer, comment="確認済み", now=clock())
        assert (review.reviewed_by, review.reviewer_account_id) == ("監査 正子（compliance）", 1)
        assert review.findings_reviewed == 4
        findings = (await session.scalars(select(AccessFinding))).all()
        assert [f for f in findings if f.fiscal_year == 2026 and f.review_id is None] == []
        assert len(findings) == 4


async def test_where_the_hub_cannot_take_a_package_out_of_reach_the_record_says_it_is_still_there(
    db_engine: AsyncEngine, tmp_path: Path
) -> None:
    """Media (and SFTP) access is managed outside the hub: the incident must not claim access was removed."""
    staging, images = tmp_path / "media-staging", tmp_path / "media-images"
    await asyncio.to_thread(staging.mkdir)
    await asyncio.to_thread(images.mkdir)
    media = MediaConnector("dvd", TOKYO, staging_root=staging, image_root=images)
    clock = Clock(jst(2026, 9, 1))
    ctx = await duty_context(db_engine, tmp_path, clock)
    async with ctx.sessions() as session, session.begin():
        await load_demo(session, tmp_path)
        zipped = await asyncio.to_thread(package_file, tmp_path / "aes.zip", b"id,name\n1,x\n")
        data = await asyncio.to_thread(zipped.path.read_bytes)
        store = tmp_path / "store"
        package = await add_package(session, "s4-main", store=store, delivered_at=jst(2026, 8, 1), data=data)
        stored = await media.put("s4-main", package.zip_name, store / package.blob_key, {})
        package.location = {"connector": "dvd", "folder": "s4-main", "location": stored.location}
    form = incidents.IncidentForm("誤送付", "DVDの誤送付", "区役 三郎", clock(), [package.public_id], "s4-main")
    incident = await incidents.open_incident(ctx.sessions, {"dvd": media}, form, clock())
    async with ctx.sessions() as session:
        row = await session.scalar(select(IncidentPackage).where(IncidentPackage.incident_id == incident.id))
    assert row is not None and "ファイルは接続先に残っています" in row.access_removed
    assert "削除" not in row.access_removed.split("。")[0]
    assert await media.exists(stored)
