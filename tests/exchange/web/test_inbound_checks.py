"""Entered application data is checked on arrival against the contract's items and the forbidden categories
(C-07): a failing table is kept sealed in quarantine with a Japanese reason; the record count is stored."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import openpyxl
from aiohttp import FormData
from sqlalchemy import select, update

from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from tests.exchange.web.portal import Portal
from tests.factories import S1_COLLECTED_ITEMS


def _form(csrf: str, name: str, content: bytes, kind: str = "entered_data") -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", kind)
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return form


def _xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _collect(portal: Portal, items: list[str]) -> str:
    contract = portal.world.contracts["main"]
    async with portal.maker.begin() as session:
        await session.execute(update(Contract).where(Contract.id == contract.id).values(collected_items=items))
    return f"/contracts/{contract.public_id}/inbound"


async def _last(portal: Portal) -> InboundFile:
    async with portal.maker() as session:
        return (await session.execute(select(InboundFile).order_by(InboundFile.id.desc()).limit(1))).scalar_one()


def _contains(path: Path, needle: bytes) -> bool:
    return needle in path.read_bytes()


async def test_entered_data_within_the_collected_items_is_received_with_its_record_count(portal: Portal) -> None:
    url = await _collect(portal, list(S1_COLLECTED_ITEMS))
    csrf = await portal.login("a-handler")
    cp932 = "氏名,住所,生年月日\n区民 一郎,東京都千代田区1-1,1950-01-02\n区民 花子,東京都千代田区2-2,1948-03-04\n"
    response = await portal.client.post(url, data=_form(csrf, "申請.csv", cp932.encode("cp932")), allow_redirects=False)
    assert response.status == 303, await response.text()
    upload = await _last(portal)
    assert (upload.status, upload.records, upload.reason_ja) == (InboundStatus.RECEIVED, 2, None)
    sheet = _xlsx([["氏名", "生活保護受給期間"], ["区民 三郎", "平成25年8月～平成30年9月"]])
    response = await portal.client.post(url, data=_form(csrf, "申請.xlsx", sheet), allow_redirects=False)
    assert response.status == 303, await response.text()
    assert ((await _last(portal)).status, (await _last(portal)).records) == (InboundStatus.RECEIVED, 1)
    async with portal.maker() as session:
        lines = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "inbound.received"))).all()
    assert sorted(json.loads(line.entry)["data"]["quantity"]["records"] for line in lines) == [1, 2]


async def test_a_forbidden_or_uncollected_column_is_quarantined_sealed_with_the_reason(portal: Portal) -> None:
    url = await _collect(portal, list(S1_COLLECTED_ITEMS))
    csrf = await portal.login("a-handler")
    sheet = _xlsx([["氏名", "信仰する宗教", "口座番号"], ["区民 一郎", "MARKER-XLSX-RELIGION", "1234567"]])
    response = await portal.client.post(url, data=_form(csrf, "申請.xlsx", sheet), allow_redirects=False)
    assert response.status == 303, await response.text()
    upload = await _last(portal)
    assert upload.status == InboundStatus.QUARANTINED and upload.records == 1
    assert upload.reason_ja is not None
    assert "収集させる項目にない項目" in upload.reason_ja and "「口座番号」" in upload.reason_ja
    assert "思想・信条・宗教" in upload.reason_ja
    # Kept, not deleted, and still sealed.
    path = portal.blobs.path_of(upload.blob_key)
    assert await asyncio.to_thread(path.exists)
    assert not await asyncio.to_thread(_contains, path, b"MARKER-XLSX-RELIGION")
    page = await (await portal.client.get(url)).text()
    assert "隔離" in page and "口座番号" in page
    async with portal.maker() as session:
        [line] = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "inbound.quarantined"))
        ).all()
    assert "隔離" in line.entry.decode() and "申請.xlsx" in line.entry.decode()


async def test_a_broken_table_or_a_contract_without_collected_items_quarantines(portal: Portal) -> None:
    url = await _collect(portal, list(S1_COLLECTED_ITEMS))
    csrf = await portal.login("a-handler")
    broken = '\ufeff氏名,住所\n"区民 一郎,東京都\n'.encode()
    assert (await portal.client.post(url, data=_form(csrf, "申請.csv", broken), allow_redirects=False)).status == 303
    upload = await _last(portal)
    assert upload.status == InboundStatus.QUARANTINED and "CSVの形式が正しくありません" in (upload.reason_ja or "")
    url = await _collect(portal, [])
    plain = "氏名\n区民 一郎\n".encode()
    assert (await portal.client.post(url, data=_form(csrf, "申請.csv", plain), allow_redirects=False)).status == 303
    upload = await _last(portal)
    assert upload.status == InboundStatus.QUARANTINED and "収集させる項目が登録されていない" in (upload.reason_ja or "")
    # Print logs are not entered data: they are checked as print logs (C-17), and one missing columns is refused
    # naming them, not kept.
    log = "印刷元コンピュータ名,印刷枚数\nPC1,3\n".encode()
    response = await portal.client.post(url, data=_form(csrf, "log.csv", log, "print_log"), allow_redirects=False)
    assert response.status == 422 and "印刷日時" in await response.text()
    assert (await _last(portal)).file_name == "申請.csv"
