"""S1 申請型: entered applications a contractor uploads are checked against the welfare-system extract the ward
registered for the contract; what does not match is shown to the contractor and staff and recorded."""

from __future__ import annotations

import asyncio
import json

from aiohttp import FormData
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select, update

from exchange.inbound import reference
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.contracts import Contract, Program
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from policies.pluginmanager import PluginConfig, build_plugin_manager
from policies.plugins.seikatsu_hogo_tsuika import PROGRAM
from tests.exchange.web.portal import Portal
from tests.factories import S1_COLLECTED_ITEMS

EXTRACT = (
    "世帯番号,氏名,生年月日,保護開始日,保護廃止日\n"
    "H1,区民 一郎,1950-01-02,2010-04-01,2016-03-31\n"
    "H3,区民 三郎,1970-03-03,2015-01-01,\n"
).encode("cp932")
APPLICATIONS = (
    "氏名,生年月日,生活保護受給期間\n"
    "区民 一郎,1950-01-02,平成25年8月～平成28年3月\n"
    "区民 二郎,1955-05-05,平成25年8月～平成28年3月\n"
    "区民 三郎,1970-03-03,平成27年1月～令和2年1月\n"
).encode()


def _form(csrf: str, content: bytes) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "entered_data")
    form.add_field("file", content, filename="申請入力.csv", content_type="text/csv")
    return form


async def _s1_portal(portal: Portal, aiohttp_client: AiohttpClient) -> Contract:
    contract = portal.world.contracts["main"]
    async with portal.maker.begin() as session:
        await session.execute(update(Program).where(Program.id == contract.program_id).values(code=PROGRAM))
        await session.execute(
            update(Contract).where(Contract.id == contract.id).values(collected_items=list(S1_COLLECTED_ITEMS))
        )
    plugins = await asyncio.to_thread(build_plugin_manager, PluginConfig(entry_points=False))
    deps = PortalDeps(keyring=portal.world.keyring, blobs=portal.blobs, plugins=plugins)
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))
    return contract


async def _last(portal: Portal) -> InboundFile:
    async with portal.maker() as session:
        return (await session.execute(select(InboundFile).order_by(InboundFile.id.desc()).limit(1))).scalar_one()


async def test_applications_are_checked_against_the_registered_extract(
    portal: Portal, aiohttp_client: AiohttpClient
) -> None:
    contract = await _s1_portal(portal, aiohttp_client)
    url = f"/contracts/{contract.public_id}/inbound"
    csrf = await portal.login("a-handler")
    # No extract registered yet: the upload is kept, and says it could not be checked.
    assert (await portal.client.post(url, data=_form(csrf, APPLICATIONS), allow_redirects=False)).status == 303
    unchecked = await _last(portal)
    assert unchecked.status == InboundStatus.RECEIVED and unchecked.findings is not None
    assert "照合用の生活保護システム抽出データが登録されていない" in unchecked.findings[0]

    master = portal.world.keyring.current
    await reference.store(portal.blobs, master, contract, "csv", EXTRACT)
    assert (await portal.client.post(url, data=_form(csrf, APPLICATIONS), allow_redirects=False)).status == 303
    checked = await _last(portal)
    assert checked.status == InboundStatus.RECEIVED and checked.records == 3
    assert checked.findings is not None and len(checked.findings) == 2
    assert checked.findings[0].startswith("2件目") and "受給記録がありません" in checked.findings[0]
    assert checked.findings[1].startswith("3件目") and "プッシュ型" in checked.findings[1]
    page = await (await portal.client.get(url)).text()
    assert "2件目：生活保護システムに該当する受給記録がありません。" in page
    async with portal.maker() as session:
        lines = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "inbound.received"))).all()
    entry = json.loads(lines[-1].entry)
    assert entry["data"]["details"]["findings"] == 2 and "確認事項2件" in entry["data"]["content"]
    # The extract is sealed at rest too.
    stored = await asyncio.to_thread(lambda: list(portal.blobs.root.joinpath("references").iterdir()))
    assert len(stored) == 1 and b"1950-01-02" not in await asyncio.to_thread(stored[0].read_bytes)
