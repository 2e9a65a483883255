"""Inspections and incidents through the portal (C-18, C-19): ward staff record, contractors report and answer,
every step a register line and an audit event; reminders are settled by what was recorded."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import FormData
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.local import LocalConnector
from exchange.blobs.local import LocalBlobStore
from exchange.intake.antivirus import ClamdScanner
from exchange.oversight import incidents, inspections
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import session_factory
from ledger.models.audit import AuditEvent
from ledger.models.base import utcnow
from ledger.models.ledger import LedgerEntry
from ledger.models.oversight import Incident, Inspection
from ledger.models.packages import Package
from ledger.wareki import format_jst
from tests.exchange.web.portal import Portal, csrf_of
from tests.factories import TOKYO, keyring, portal_world
from tests.services import require_binary
from tests.services.clamd import EICAR, Clamd

REPORT = "実地検査チェックリスト 個人番号 1234-5678-9012".encode()


@pytest.fixture
async def outbox_portal(db_engine: AsyncEngine, aiohttp_client: AiohttpClient, tmp_path: Path) -> Portal:
    """The portal's world with a real local outbox holding the main contract's package (as delivered)."""
    maker = session_factory(db_engine)
    ring = await asyncio.to_thread(keyring, tmp_path)
    outbox = LocalConnector("outbox", TOKYO, root=tmp_path / "outbox")
    await asyncio.to_thread((tmp_path / "outbox").mkdir)
    async with maker.begin() as session:
        world = await portal_world(session, tmp_path / "store", ring)
        for code in ("main", "sub"):
            package = await session.get(Package, world.packages[code].id)
            assert package is not None
            stored = await outbox.put(code, package.zip_name, tmp_path / "store" / package.blob_key, {})
            package.location = {"connector": "outbox", "folder": code, "location": stored.location}
            package.content = {
                "files": [{"name": "data.csv", "records": 5}],
                "quantities": {"records": 5, "households": 3},
            }
    blobs = await asyncio.to_thread(LocalBlobStore, tmp_path / "blobs")
    deps = PortalDeps(keyring=ring, connector_kinds={"outbox": "local"}, connectors={"outbox": outbox}, blobs=blobs)
    client = await aiohttp_client(create_app(maker, deps=deps))
    return Portal(client, world, maker, tmp_path / "data", blobs)


async def _kinds(portal: Portal) -> list[str]:
    async with portal.maker() as session:
        return list((await session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).all())


async def _audited(portal: Portal, action: str) -> list[dict[str, object]]:
    async with portal.maker() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == action))).all()
        return [event.detail for event in events]


def _inspection_form(token: str, inspector: str, attachment: bytes | None) -> FormData:
    form = FormData(default_to_multipart=True)
    for key, value in (
        ("csrf_token", token),
        ("performed_on", "2026-06-10"),
        ("inspector", inspector),
        ("result", "要改善"),
        ("findings", "施錠管理の記録に漏れ"),
    ):
        form.add_field(key, value)
    if attachment is not None:
        form.add_field("attachment", attachment, filename="検査報告書.pdf", content_type="application/pdf")
    return form


async def test_staff_and_contractor_record_inspections_settling_the_reminder(outbox_portal: Portal) -> None:
    portal, client = outbox_portal, outbox_portal.client
    token = await portal.login("staff-same")
    assert (await client.get("/staff/inspections")).status == 200
    async with portal.maker() as session:
        rows = {
            row.contract_id: row
            for row in (await session.scalars(select(Inspection).where(Inspection.recorded_at.is_(None)))).all()
        }
    main = rows[portal.world.contracts["main"].id]
    pending_before = (await inspections.remind(portal.maker, utcnow(), mailer=None))["pending"]

    form = _inspection_form(token, "生活福祉課 検査 一郎", REPORT)
    response = await client.post(f"/staff/inspections/{main.public_id}", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert (await inspections.remind(portal.maker, utcnow(), mailer=None))["pending"] == pending_before - 1
    async with portal.maker() as session:
        recorded = await session.get(Inspection, main.id)
        assert recorded is not None and recorded.result == "要改善" and recorded.inspected_by_party_id is None
        assert "staff-same" in (recorded.recorded_by or "")
        assert recorded.attachment_key is not None
    sealed = await asyncio.to_thread(portal.blobs.path_of(recorded.attachment_key).read_bytes)
    assert b"1234-5678" not in sealed and REPORT not in sealed
    download = await client.get(f"/inspections/{main.public_id}/attachment")
    assert download.status == 200 and await download.read() == REPORT

    report = await client.get("/staff/inspections/report", params={"fy": str(main.fiscal_year), "format": "csv"})
    assert report.status == 200
    lines = list(csv.reader(io.StringIO((await report.read()).decode("utf-8-sig"))))
    assert any("生活福祉課 検査 一郎（区）" in line and "要改善" in line for line in lines), lines
    pdf = await client.get("/staff/inspections/report", params={"fy": str(main.fiscal_year), "format": "pdf"})
    assert (await pdf.read()).startswith(b"%PDF")

    # The compliance officer reads but does not record.
    compliance_token = await portal.login("compliance")
    form = _inspection_form(compliance_token, "監査", None)
    assert (await client.post(f"/staff/inspections/{main.public_id}", data=form)).status == 403
    query = {"kind": "inspections", "format": "csv", "fy": str(main.fiscal_year)}
    compliance_report = await client.get("/compliance/reports/download", params=query)
    assert compliance_report.status == 200 and "要改善" in (await compliance_report.read()).decode("utf-8-sig")

    # The contractor records its inspection of its sub-contractor (乙→丙) from its own contract's page.
    token = await portal.login("a-manager")
    main_id, sub_id = portal.world.contracts["main"].public_id, portal.world.contracts["sub"].id
    page = await client.get(f"/contracts/{main_id}/inspections")
    assert page.status == 200 and "再委託先の検査" in await page.text()
    async with portal.maker() as session:
        sub = await session.scalar(select(Inspection).where(Inspection.contract_id == sub_id))
    assert sub is not None
    form = _inspection_form(token, "a社 品質管理部 検査 次郎", None)
    response = await client.post(f"/contracts/{main_id}/inspections/{sub.public_id}", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with portal.maker() as session:
        done = await session.get(Inspection, sub.id)
        assert done is not None and done.recorded_by == portal.world.people["a-manager"].name
        assert done.inspected_by_party_id == portal.world.people["a-manager"].party_id
    # Another contractor cannot reach that page.
    await portal.login("c-handler")
    assert (await client.get(f"/contracts/{main_id}/inspections")).status == 404
    assert (await _kinds(portal)).count("inspection.recorded") == 2
    assert len(await _audited(portal, "inspection.record")) >= 3  # two recorded, one refused


async def test_incident_from_opening_to_closing_through_the_portal(outbox_portal: Portal, tmp_path: Path) -> None:
    portal, client = outbox_portal, outbox_portal.client
    package = portal.world.packages["main"]
    token = await portal.login("staff-same")
    discovered = format_jst(utcnow() - timedelta(hours=2)).replace(" ", "T")
    form = {
        "csrf_token": token,
        "title": "USBメモリの紛失",
        "description": "委託先でデータを保存したUSBメモリを紛失",
        "discovered_at": discovered,
        "contract": "main",
        "package": package.public_id,
    }
    response = await client.post("/staff/incidents", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    incident_url = response.headers["Location"]
    incident_id = incident_url.rsplit("/", 1)[1]

    # The package left the served outbox folder and sits, owner-only, in .revoked/.
    outbox = tmp_path / "outbox"
    assert not await asyncio.to_thread((outbox / "main" / package.zip_name).exists)
    moved = outbox / ".revoked" / "main" / package.zip_name
    assert (await asyncio.to_thread(moved.stat)).st_mode & 0o777 == 0o600
    page = await (await client.get(incident_url)).text()
    assert "レコード5件" in page and "3世帯" in page and "取り下げ" in page
    async with portal.maker() as session:
        frozen = await session.get(Package, package.id)
        assert frozen is not None and frozen.frozen_at is not None

    # Deadlines: the preliminary report is chased until its filing is recorded.
    async with portal.maker() as session:
        incident = await session.scalar(select(Incident).where(Incident.public_id == incident_id))
    assert incident is not None
    late = incident.preliminary_due_at + timedelta(minutes=1)
    assert f"{incident_id}:preliminary" in (await incidents.remind(portal.maker, late, mailer=None))["overdue"]
    filing = {"csrf_token": token, "which": "preliminary", "at": discovered, "reference": "個情第123号"}
    assert (await client.post(f"{incident_url}/filings", data=filing, allow_redirects=False)).status == 303
    assert (await incidents.remind(portal.maker, late, mailer=None))["overdue"] == []
    instruction = {"csrf_token": token, "body": "紛失の経緯と対象者への連絡状況を報告してください"}
    assert (await client.post(f"{incident_url}/instructions", data=instruction, allow_redirects=False)).status == 303

    # The contractor answers, and reports an incident of its own.
    token = await portal.login("a-handler")
    main_id = portal.world.contracts["main"].public_id
    answer = {"csrf_token": token, "body": "対象者3世帯に連絡済みです"}
    response = await client.post(f"/contracts/{main_id}/incidents/{incident_id}/answers", data=answer)
    assert response.status == 200 and "対象者3世帯に連絡済みです" in await response.text()
    own = {"csrf_token": token, "title": "誤送付", "description": "別の宛先に送付", "discovered_at": discovered}
    assert (await client.post(f"/contracts/{main_id}/incidents", data=own, allow_redirects=False)).status == 303
    async with portal.maker() as session:
        reported = await session.scalar(select(Incident).where(Incident.title == "誤送付"))
        assert reported is not None and reported.reported_by_party_id == portal.world.people["a-handler"].party_id
        assert reported.reported_by.startswith("a-handler")
    await portal.login("c-handler")
    assert (await client.post(f"/contracts/{main_id}/incidents", data=own)).status in (403, 404)

    # Unfreeze with a reason, file the final report, close; the PDF says what was done.
    token = await portal.login("staff-same")
    assert "から事故「誤送付」の報告がありました" in await (await client.get("/staff")).text()
    unfreeze = {"csrf_token": token, "package": package.public_id, "reason": "USBメモリが発見され、暗号化を確認"}
    assert (await client.post(f"{incident_url}/unfreeze", data=unfreeze, allow_redirects=False)).status == 303
    filing = {"csrf_token": token, "which": "final", "at": discovered, "reference": "個情第130号"}
    assert (await client.post(f"{incident_url}/filings", data=filing, allow_redirects=False)).status == 303
    close = {"csrf_token": token, "note": "再発防止策を確認した"}
    assert (await client.post(f"{incident_url}/close", data=close, allow_redirects=False)).status == 303
    async with portal.maker() as session:
        released = await session.get(Package, package.id)
        assert released is not None and released.frozen_at is None
    pdf = await (await client.get(f"{incident_url}/report.pdf")).read()
    path = tmp_path / "incident.pdf"
    await asyncio.to_thread(path.write_bytes, pdf)
    text = (
        await asyncio.to_thread(
            subprocess.run, [require_binary("pdftotext"), "-enc", "UTF-8", str(path), "-"], capture_output=True
        )
    ).stdout.decode()
    for phrase in ("取り下げ", "個情第123号", "個情第130号", "対象者3世帯に連絡済みです", "終結"):
        assert phrase in text.replace("\n", ""), phrase
    kinds = await _kinds(portal)
    for kind in (
        "incident.recorded",
        "incident.access_removed",
        "incident.preliminary_reported",
        "incident.final_reported",
        "incident.instruction",
        "incident.answer",
        "incident.unfrozen",
        "incident.closed",
    ):
        assert kind in kinds, kind
    ops = [detail.get("op") for detail in await _audited(portal, "incident.manage")]
    assert {"open", "filing", "instruction", "unfreeze", "close"} <= set(ops)
    # Closed: no more changes.
    again = {"csrf_token": token, "body": "追加の指示"}
    assert (await client.post(f"{incident_url}/instructions", data=again)).status == 400


async def test_csrf_and_section_guard_incident_pages(outbox_portal: Portal) -> None:
    portal, client = outbox_portal, outbox_portal.client
    await portal.login("staff-other")
    token = await csrf_of(client, "/staff/incidents")
    form = {"csrf_token": token, "title": "t", "description": "d", "discovered_at": "2026-01-01T10:00"}
    response = await client.post("/staff/incidents", data={**form, "contract": "main"})
    assert response.status == 403  # another section's contract
    package = portal.world.packages["main"].public_id
    response = await client.post("/staff/incidents", data={**form, "package": package})
    assert response.status == 403  # no contract named, but the package is another section's
    response = await client.post("/staff/incidents", data={**form, "csrf_token": "wrong"})
    assert response.status == 403
    async with portal.maker() as session:
        assert (await session.scalars(select(Incident))).all() == []


async def test_an_infected_inspection_report_is_refused_and_nothing_kept(
    portal: Portal, aiohttp_client: AiohttpClient, clamd: Clamd
) -> None:
    deps = PortalDeps(keyring=portal.world.keyring, blobs=portal.blobs, scanner=ClamdScanner(clamd.socket, timeout=30))
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))
    token = await portal.login("a-manager")
    main_id, sub_id = portal.world.contracts["main"].public_id, portal.world.contracts["sub"].id
    assert (await portal.client.get(f"/contracts/{main_id}/inspections")).status == 200
    async with portal.maker() as session:
        sub = await session.scalar(select(Inspection).where(Inspection.contract_id == sub_id))
    assert sub is not None
    form = _inspection_form(token, "検査 次郎", None)
    form.add_field("attachment", EICAR, filename="report.txt", content_type="text/plain")
    response = await portal.client.post(f"/contracts/{main_id}/inspections/{sub.public_id}", data=form)
    assert response.status == 400 and "ウイルスが検出されたため" in await response.text()
    folder = portal.blobs.root / "attachments"  # the store also holds the world's packages
    kept = await asyncio.to_thread(lambda: [p for p in folder.rglob("*") if p.is_file()])
    assert kept == []
    async with portal.maker() as session:
        row = await session.get(Inspection, sub.id)
        assert row is not None and row.recorded_at is None
