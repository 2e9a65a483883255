"""Contractor uploads are sealed at rest in the blob store, every part of a submission is scanned, and scans are
accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import FormData
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from exchange.inbound.uploads import read_upload
from exchange.intake.antivirus import ClamdScanner
from exchange.keys.sealing import UnsealError
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from tests.exchange.web.portal import Portal
from tests.services.clamd import EICAR, Clamd

MARKER = b"SECRET-MARKER-4711-\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e"
# A PNG signature and header chunk, then the marker as a text chunk: what a scanned certificate may carry.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + MARKER * 50


def _form(csrf: str, kind: str, *files: tuple[str, bytes]) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", kind)
    for name, content in files:
        form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return form


def _files_containing(folder: Path, needle: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if needle in data or needle.hex().encode() in data:
                found.append(path)
    return found


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def _rows(portal: Portal) -> list[InboundFile]:
    async with portal.maker() as session:
        return list((await session.execute(select(InboundFile).order_by(InboundFile.id))).scalars())


async def test_an_uploaded_scan_is_not_readable_in_plain_text_in_the_store(portal: Portal) -> None:
    csrf = await portal.login("a-handler")
    contract = portal.world.contracts["main"].public_id
    response = await portal.client.post(
        f"/contracts/{contract}/inbound",
        data=_form(csrf, "evidence_scan", ("障害者手帳.png", PNG), ("年金証書.PDF", b"%PDF-1.4\n" + MARKER)),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    rows = await _rows(portal)
    assert [(r.file_name, r.kind, r.status) for r in rows] == [
        ("障害者手帳.png", "evidence_scan", InboundStatus.RECEIVED),
        ("年金証書.PDF", "evidence_scan", InboundStatus.RECEIVED),
    ]
    assert [r.blob_key for r in rows] == [f"uploads/{r.public_id}" for r in rows]
    assert await asyncio.to_thread(_files_containing, portal.blobs.root, MARKER[:19]) == []
    assert len(await asyncio.to_thread(_all_files, portal.blobs.root / "uploads")) == 2  # beside the packages
    assert await asyncio.to_thread(_all_files, portal.data_dir) == []
    # Staff read it back through the keyring, byte for byte.
    plain = b"".join([chunk async for chunk in read_upload(portal.blobs, portal.world.keyring, rows[0])])
    assert plain == PNG
    page = await (await portal.client.get(f"/contracts/{contract}/inbound")).text()
    assert "障害者手帳.png" in page and "受領" in page and "証拠書類の写し" in page


async def test_a_sealed_upload_does_not_open_under_another_rows_name(portal: Portal) -> None:
    csrf = await portal.login("a-handler")
    contract = portal.world.contracts["main"].public_id
    files = (("a.png", PNG), ("b.png", PNG + b"2"))
    response = await portal.client.post(
        f"/contracts/{contract}/inbound", data=_form(csrf, "evidence_scan", *files), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    first, second = await _rows(portal)
    first.blob_key = second.blob_key  # a blob swapped under another row
    with pytest.raises(UnsealError):
        _ = [chunk async for chunk in read_upload(portal.blobs, portal.world.keyring, first)]


async def test_images_are_accepted_as_evidence_and_executables_refused_with_what_is_accepted(portal: Portal) -> None:
    csrf = await portal.login("a-handler")
    url = f"/contracts/{portal.world.contracts['main'].public_id}/inbound"
    refused = await portal.client.post(url, data=_form(csrf, "evidence_scan", ("通帳の写し.exe", b"MZ")))
    text = await refused.text()
    assert refused.status == 400 and "受け付けられません" in text and ".jpg" in text and ".tif" in text
    scan = await portal.client.post(
        url, data=_form(csrf, "evidence_scan", ("通帳の写し.JPG", b"\xff\xd8\xff" + MARKER)), allow_redirects=False
    )
    assert scan.status == 303, await scan.text()
    assert [r.file_name for r in await _rows(portal)] == ["通帳の写し.JPG"]


async def test_every_part_is_scanned_an_infected_first_part_refuses_the_submission(
    portal: Portal, aiohttp_client: AiohttpClient, clamd: Clamd
) -> None:
    deps = PortalDeps(keyring=portal.world.keyring, blobs=portal.blobs, scanner=ClamdScanner(clamd.socket, timeout=30))
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))
    csrf = await portal.login("a-handler")
    url = f"/contracts/{portal.world.contracts['main'].public_id}/inbound"
    attack = _form(csrf, "evidence_scan", ("scan1.pdf", EICAR), ("scan2.pdf", b"%PDF-1.4\nclean"))
    refused = await portal.client.post(url, data=attack)
    text = await refused.text()
    assert refused.status == 422 and "ウイルスが検出された" in text and "scan1.pdf" in text, text
    assert await _rows(portal) == []
    assert await asyncio.to_thread(_all_files, portal.blobs.root / "uploads") == []
    # The same attack with the infected part second.
    swapped = _form(csrf, "evidence_scan", ("scan2.pdf", b"%PDF-1.4\nclean"), ("scan1.pdf", EICAR))
    second = await portal.client.post(url, data=swapped)
    assert second.status == 422 and "他のファイルも受け付けていません" in await second.text()
    assert await _rows(portal) == []
    assert await asyncio.to_thread(_all_files, portal.blobs.root / "uploads") == []
    async with portal.maker() as session:
        lines = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "inbound.refused"))).all()
    assert len(lines) == 2 and all("scan1.pdf" in line.entry.decode() for line in lines)
    clean = _form(csrf, "evidence_scan", ("scan2.pdf", b"%PDF-1.4\nclean"), ("scan3.png", PNG))
    accepted = await portal.client.post(url, data=clean, allow_redirects=False)
    assert accepted.status == 303, await accepted.text()
    assert [r.file_name for r in await _rows(portal)] == ["scan2.pdf", "scan3.png"]
