"""The ward's review of a contractor's deletion certificate (C-04), through the portal: request ids shown, an erasure
date before delivery refused, a return (差戻し) with its reason seen by the contractor, the resubmission accepted,
each decision a register line naming the member of staff, and the facts in the deletion report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from exchange.retention import contractor_certificates as contractor_certs
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.retention import CertificateRequest, CertificateReview, ContractorCertificate
from ledger.reports import deletion
from ledger.wareki import JST
from tests.exchange.retention.facts import FACTS
from tests.exchange.web.portal import Portal
from tests.exchange.web.test_compliance_reports import pdf_text


async def _request(portal: Portal) -> str:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        created, _ = await contractor_certs.request_certificates(
            session, contract, datetime.now(UTC), reason="on_demand", due_days=14
        )
        return next(r.public_id for r in created if r.contract_id == contract.id)


def _form(csrf: str, package: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "package": package,
        "method": "purge",
        "erased_on": datetime.now(JST).date().isoformat(),
        "media": "業務用PCの内蔵SSD",
        "operator": "作業 太郎",
        "verifier": "確認 花子",
        **FACTS,
        **changes,
    }


async def _register(portal: Portal, kind: str) -> list[str]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [row.decode() for row in rows]


async def _certificates(portal: Portal) -> list[ContractorCertificate]:
    async with portal.maker() as session:
        query = select(ContractorCertificate).order_by(ContractorCertificate.id)
        return list((await session.execute(query)).scalars())


async def test_return_resubmit_accept(portal: Portal, tmp_path: Path) -> None:
    request_id = await _request(portal)
    client, world = portal.client, portal.world
    package = world.packages["main"].public_id
    form_url = f"/contracts/{world.contracts['main'].public_id}/certificate"

    csrf = await portal.login("a-handler")
    assert request_id in await (await client.get(form_url)).text()
    yesterday = (datetime.now(JST).date() - timedelta(days=1)).isoformat()
    early = await client.post(form_url, data=_form(csrf, package, erased_on=yesterday))
    text = await early.text()
    assert early.status == 400 and "提供日" in text and "より前です" in text and "main_データ.zip" in text
    no_tool = await client.post(form_url, data=_form(csrf, package, tool=" ", verification_result=""))
    assert no_tool.status == 400 and "使用したツールと版・検証の結果を入力してください" in await no_tool.text()
    assert await _certificates(portal) == []
    first = await client.post(form_url, data=_form(csrf, package, media_serial=""))
    assert first.status == 200 and "全データの消去証明書がそろいました" not in await first.text()
    [submitted] = await _certificates(portal)
    assert (submitted.tool, submitted.media_serial, submitted.review) == ("見本消去ツール 3.2", None, "submitted")

    # Ward staff of another section neither see it nor may decide; the compliance officer reads only.
    csrf = await portal.login("staff-other")
    assert submitted.public_id not in await (await client.get("/staff/certificates")).text()
    review_url = f"/staff/certificates/{submitted.public_id}/review"
    other = await client.post(review_url, data={"csrf_token": csrf, "decision": "accept"}, allow_redirects=False)
    assert other.status == 403
    csrf = await portal.login("compliance")
    denied = await client.post(review_url, data={"csrf_token": csrf, "decision": "accept"}, allow_redirects=False)
    assert denied.status == 403

    csrf = await portal.login("staff-same")
    page = await (await client.get("/staff/certificates")).text()
    assert request_id in page and submitted.public_id in page and "見本消去ツール 3.2" in page and "受理する" in page
    blank = await client.post(review_url, data={"csrf_token": csrf, "decision": "return", "comment": " "})
    assert blank.status == 400 and "差戻しの理由を入力してください" in await blank.text()
    reason = "製造番号の記載がありません"
    returned = await client.post(
        review_url, data={"csrf_token": csrf, "decision": "return", "comment": reason}, allow_redirects=False
    )
    assert returned.status == 303
    [line] = await _register(portal, "certificate.returned")
    assert "staff-same" in line and reason in line and request_id in line
    async with portal.maker() as session:
        requests = (await session.execute(select(CertificateRequest))).scalars().all()
    assert all(r.completed_at is None for r in requests)
    again = await client.post(review_url, data={"csrf_token": csrf, "decision": "accept"})
    assert again.status == 400 and "差戻し済み" in await again.text()

    csrf = await portal.login("a-handler")
    home = (await (await client.get("/")).text()).split('id="certificate-requests"', 1)[1]
    assert request_id in home and "差戻し：再提出してください" in home and form_url in home
    shown = await (await client.get(form_url)).text()
    assert "差戻しの理由：" + reason in shown and "もう一度提出してください" in shown
    resubmitted = await client.post(form_url, data=_form(csrf, package))
    assert resubmitted.status == 200
    returned_one, second = await _certificates(portal)
    assert returned_one.review is CertificateReview.RETURNED and second.review is CertificateReview.SUBMITTED

    csrf = await portal.login("staff-same")
    accepted = await client.post(
        f"/staff/certificates/{second.public_id}/review",
        data={"csrf_token": csrf, "decision": "accept", "comment": "確認しました"},
        allow_redirects=False,
    )
    assert accepted.status == 303
    [line] = await _register(portal, "certificate.accepted")
    assert "staff-same" in line and second.public_id in line
    async with portal.maker() as session:
        events = (await session.execute(select(AuditEvent).where(AuditEvent.action == "certificate.review"))).scalars()
        outcomes = sorted((e.outcome, e.detail.get("decision") or e.detail.get("reason", "")) for e in events)
        report = await deletion.build(session, "main")
    assert ("allowed", "accepted") in outcomes and ("allowed", "returned") in outcomes
    assert ("denied", "差戻しの理由を入力してください。") in outcomes
    [main_row] = report.sections[0].rows
    cells = " ".join(str(cell) for cell in main_row)
    assert f"依頼番号 {request_id}" in cells and "除去（Purge）" in cells and "見本消去ツール 3.2" in cells
    assert "全領域の読取り確認：残存データなし" in cells and "製造番号 S3Z9NB0K123456" in cells
    assert "受理（staff-same" in cells

    # The compliance officer's deletion report PDF carries the same facts (pdftotext splits cells, so words only).
    await portal.login("compliance")
    page = await (await client.get("/compliance/certificates")).text()
    assert request_id in page and second.public_id in page and "受理（staff-same 様（staff-same））" in page
    response = await client.get(
        "/compliance/reports/download", params={"kind": "deletion", "contract": "main", "format": "pdf"}
    )
    assert response.status == 200
    text = "".join((await pdf_text(await response.read(), tmp_path)).split())
    for words in ("見本消去ツール", "残存データなし", "S3Z9NB0K123456", "除去（Purge）", "受理"):
        assert words in text, words


async def test_an_ended_contracts_handler_finds_the_request_on_the_home_page(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "expired"))).scalar_one()
        [created], _ = await contractor_certs.request_certificates(
            session, contract, datetime.now(UTC), reason="contract_end", due_days=14
        )
        request_id = created.public_id
    await portal.login("e-handler")
    home = await (await portal.client.get("/")).text()
    assert "現在、受け取るデータはありません" in home  # the ended contract's data is out of reach
    requests = home.split('id="certificate-requests"', 1)[1]
    assert request_id in requests and "未提出" in requests
    assert f"/contracts/{portal.world.contracts['expired'].public_id}/certificate" in requests
    await portal.login("a-handler")
    assert request_id not in await (await portal.client.get("/")).text()
