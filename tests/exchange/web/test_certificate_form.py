"""The contractor's deletion certificate form (C-04): coverage problems shown, refusals explained, ended contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from exchange.retention import contractor_certificates as contractor_certs
from ledger.models.contracts import Contract
from ledger.models.retention import CertificateRequest, ContractorCertificate
from ledger.wareki import JST
from tests.exchange.retention.facts import FACTS
from tests.exchange.web.portal import Portal


async def _request(portal: Portal, code: str) -> None:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == code))).scalar_one()
        await contractor_certs.request_certificates(
            session, contract, datetime.now(UTC), reason="on_demand", due_days=14
        )


def _form(csrf: str, *packages: str, **changes: str) -> list[tuple[str, str]]:
    fields = {
        "csrf_token": csrf,
        "method": "purge",
        "erased_on": datetime.now(JST).date().isoformat(),
        "media": "業務用PCの内蔵SSD",
        "operator": "作業 太郎",
        "verifier": "確認 花子",
        **FACTS,
        **changes,
    }
    return list(fields.items()) + [("package", p) for p in packages]


async def test_family_coverage_is_shown_until_every_party_has_certified(portal: Portal) -> None:
    await _request(portal, "main")
    client, world = portal.client, portal.world
    main, sub = world.packages["main"].public_id, world.packages["sub"].public_id
    url = f"/contracts/{world.contracts['main'].public_id}/certificate"
    csrf = await portal.login("a-handler", client)
    page = await (await client.get(url)).text()
    assert main in page and sub not in page

    foreign = await client.post(url, data=_form(csrf, sub))
    assert foreign.status == 400 and "受け取っていないデータは証明できません" in await foreign.text()
    nobody = await client.post(url, data=_form(csrf, main, operator=" "))
    assert nobody.status == 400 and "作業者を入力してください" in await nobody.text()
    future = (datetime.now(JST).date() + timedelta(days=2)).isoformat()
    later = await client.post(url, data=_form(csrf, main, erased_on=future))
    assert later.status == 400 and "未来の日付" in await later.text()
    async with portal.maker() as session:
        assert (await session.execute(select(ContractorCertificate))).scalars().all() == []

    partial = await client.post(url, data=_form(csrf, main))
    text = await partial.text()
    assert partial.status == 200 and "まだ証明されていないデータがあります（1件）" in text
    assert "b株式会社（契約 sub）：再委託先からの提出待ち" in text

    csrf = await portal.login("b-handler", client)
    done = await client.post(f"/contracts/{world.contracts['sub'].public_id}/certificate", data=_form(csrf, sub))
    assert done.status == 200 and "全データの消去証明書がそろいました" in await done.text()
    async with portal.maker() as session:
        requests = (await session.execute(select(CertificateRequest))).scalars().all()
    assert len(requests) == 2 and all(r.completed_at is not None for r in requests)


async def test_an_ended_contracts_handler_can_still_certify(portal: Portal) -> None:
    await _request(portal, "expired")
    client, world = portal.client, portal.world
    url = f"/contracts/{world.contracts['expired'].public_id}/certificate"
    csrf = await portal.login("e-handler", client)
    assert (await client.get(f"/packages/{world.packages['expired'].public_id}/download")).status == 403
    response = await client.post(url, data=_form(csrf, world.packages["expired"].public_id, method="destroy"))
    assert response.status == 200 and "全データの消去証明書がそろいました" in await response.text()
    async with portal.maker() as session:
        [certificate] = (await session.execute(select(ContractorCertificate))).scalars().all()
    assert certificate.method.value == "destroy" and certificate.submitted_by == "e-handler 様"


async def test_no_request_no_form(portal: Portal) -> None:
    csrf = await portal.login("a-handler")
    url = f"/contracts/{portal.world.contracts['main'].public_id}/certificate"
    assert "提出依頼はありません" in await (await portal.client.get(url)).text()
    response = await portal.client.post(url, data=_form(csrf, portal.world.packages["main"].public_id))
    assert response.status == 404
