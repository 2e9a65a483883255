"""Uploads pass the intake checks' virus scan (C-12) against a real clamd; a scanner that is down refuses them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import FormData
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from exchange.intake.antivirus import ClamdScanner
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.audit import AuditEvent
from ledger.models.inbound import InboundFile
from ledger.models.ledger import LedgerEntry
from tests.exchange.web.portal import Portal
from tests.services.clamd import EICAR, Clamd


def _form(csrf: str, content: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "entered_data")  # a print log is parsed on arrival: see test_printing_portal.py
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return form


async def _scanning(portal: Portal, aiohttp_client: AiohttpClient, socket: Path) -> str:
    deps = PortalDeps(keyring=portal.world.keyring, blobs=portal.blobs, scanner=ClamdScanner(socket, timeout=30))
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))
    return await portal.login("a-handler")


def _stored_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_infected_upload_is_refused_removed_and_recorded(
    portal: Portal, aiohttp_client: AiohttpClient, clamd: Clamd
) -> None:
    csrf = await _scanning(portal, aiohttp_client, clamd.socket)
    contract = portal.world.contracts["main"].public_id
    url = f"/contracts/{contract}/inbound"
    infected = await portal.client.post(url, data=_form(csrf, EICAR, "entered.csv"))
    text = await infected.text()
    assert infected.status == 422 and "ウイルスが検出されたため" in text and "Test.EICAR" in text
    assert await asyncio.to_thread(_stored_files, portal.blobs.root / "uploads") == []
    clean = await portal.client.post(url, data=_form(csrf, b"printer,pages\nA,3\n", "print.csv"), allow_redirects=False)
    assert clean.status == 303, await clean.text()
    async with portal.maker() as session:
        rows = (await session.execute(select(InboundFile))).scalars().all()
        [event] = (await session.execute(select(AuditEvent).where(AuditEvent.action == "inbound.infected"))).scalars()
        [line] = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "inbound.refused"))
        ).scalars()
    assert [r.file_name for r in rows] == ["print.csv"]
    assert await asyncio.to_thread(_stored_files, portal.blobs.root / "uploads") == [rows[0].public_id]
    assert event.outcome == "denied" and event.detail["signature"].startswith("Test.EICAR")
    assert "受付拒否" in line.decode() and "entered.csv" in line.decode()


async def test_upload_is_refused_while_the_scanner_is_down(
    portal: Portal, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    csrf = await _scanning(portal, aiohttp_client, tmp_path / "no-clamd.sock")
    contract = portal.world.contracts["main"].public_id
    response = await portal.client.post(f"/contracts/{contract}/inbound", data=_form(csrf, b"a,b\n", "print.csv"))
    assert response.status == 503 and "ウイルス検査ができないため" in await response.text()
    assert await asyncio.to_thread(_stored_files, portal.blobs.root / "uploads") == []
    async with portal.maker() as session:
        assert (await session.execute(select(InboundFile))).scalars().all() == []
        [event] = (await session.execute(select(AuditEvent).where(AuditEvent.action == "inbound.upload"))).scalars()
    assert event.outcome == "failed" and event.detail["reason"] == "scanner.unavailable"
