"""Compliance officer's report downloads and certificate views: formats, filters, refusals, audit."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import openpyxl
from sqlalchemy import func, select

from exchange.retention import contractor_certificates as contractor_certs
from exchange.retention import hub_certificate_files as certificate_files
from exchange.retention.contractor_certificates import Submission
from ledger.hub_certificate import ErasedPackage, build_document, certificate_number, sign_document
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.retention import ErasureMethod, HubCertificateStatus, HubDeletionCertificate, HubDeletionItem
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports import access_log, deletion, handover, media, printlog
from ledger.tlog.checkpoint import SigningKey, VerifierKey
from ledger.wareki import JST, fiscal_year
from tests.exchange.retention.facts import FACTS
from tests.exchange.web.portal import Portal

TITLES = {
    "handover": "個人情報受渡し管理簿（確認記録票）",
    "media": "電磁的記録媒体管理簿",
    "print": "印刷ログ確認結果（重複印刷等）",
    "deletion": "データ消去状況一覧（消去証明書）",
    "access": "アクセスログ分析結果",
}
COLUMNS = {
    "handover": handover.COLUMNS,
    "media": media.COLUMNS,
    "print": printlog.COLUMNS,
    "deletion": deletion.COLUMNS,
    "access": access_log.COLUMNS,
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    await asyncio.to_thread(path.write_bytes, data)
    done = await asyncio.to_thread(
        subprocess.run, ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


def xlsx_text(data: bytes) -> str:
    """The workbook's title, its sheets' names and every cell, one a line."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = [str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row]
    lines = [str(book.properties.title), *book.sheetnames, *cells]
    book.close()
    return "\n".join(lines)


async def audit_count(portal: Portal, action: str, outcome: str = "allowed") -> int:
    async with portal.maker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.outcome == outcome)
        )
    assert count is not None
    return count


async def test_compliance_downloads_each_report_in_each_format(portal: Portal, tmp_path: Path) -> None:
    await portal.login("compliance")
    year = fiscal_year(datetime.now(UTC))
    downloads = [
        (kind, fmt, encoding)
        for kind in TITLES
        for fmt, encoding in (("pdf", "utf-8-sig"), ("xlsx", "utf-8-sig"), ("csv", "utf-8-sig"), ("csv", "cp932"))
    ]
    for kind, fmt, encoding in downloads:
        query = {"kind": kind, "contract": "main", "fy": str(year)}
        response = await portal.client.get(
            "/compliance/reports/download", params={**query, "format": fmt, "encoding": encoding}
        )
        assert response.status == 200, await response.text()
        data = await response.read()
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment; ")
        assert f"filename*=UTF-8''{quote(TITLES[kind])}_" in disposition and disposition.endswith(f".{fmt}")
        if fmt == "pdf":
            assert response.content_type == CONTENT_TYPES["pdf"]
            text = await pdf_text(data, tmp_path)
        elif fmt == "xlsx":
            assert response.content_type == CONTENT_TYPES["xlsx"]
            text = await asyncio.to_thread(xlsx_text, data)
        elif encoding == "utf-8-sig":
            assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
            assert data.startswith(b"\xef\xbb\xbf")
            text = data.decode("utf-8-sig")
        else:
            assert response.headers["Content-Type"] == "text/csv; charset=Windows-31J"
            assert not data.startswith(b"\xef\xbb\xbf")
            text = data.decode("cp932")
        if fmt == "pdf":  # the title, the filter and the contract (pdftotext breaks table cells apart)
            assert TITLES[kind] in text
            assert f"（{year}年度）" in text or kind == "deletion"
            assert "main契約（main）" in text or kind == "access"
        else:
            assert fmt == "csv" or TITLES[kind] in text  # a CSV is the table alone, without the title
            assert [column.title for column in COLUMNS[kind] if column.title not in text] == []
    assert await audit_count(portal, "compliance.report.download") == len(downloads)


async def test_date_range_and_contract_filter_the_register(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        for code in ("main", "other"):
            line = RegisterEntry(
                kind=RegisterKind.PACKAGE_DELIVERED,
                category=Category.PROVIDED,
                content=f"{code}の提供記録",
                contract_id=portal.world.contracts[code].public_id,
            )
            await record(session, line)
    await portal.login("compliance")
    today = datetime.now(UTC).astimezone(JST).date().isoformat()

    async def download(**params: str) -> str:
        query = {"kind": "handover", "format": "csv", "encoding": "cp932", **params}
        response = await portal.client.get("/compliance/reports/download", params=query)
        assert response.status == 200
        return (await response.read()).decode("cp932")

    everything = await download(**{"from": today, "to": today})
    assert "mainの提供記録" in everything and "otherの提供記録" in everything
    only_main = await download(contract="main")
    assert "mainの提供記録" in only_main and "otherの提供記録" not in only_main
    assert "の提供記録" not in await download(**{"from": "2001-04-01", "to": "2001-04-30"})
    assert "の提供記録" not in await download(fy="2001")


BAD_REQUESTS = [
    ({"kind": "handover", "format": "pdf", "fy": "令和8"}, "年度は西暦の4桁"),
    ({"kind": "handover", "format": "pdf", "from": "2026/04/01"}, "YYYY-MM-DD"),
    ({"kind": "handover", "format": "pdf", "from": "2026-05-01", "to": "2026-04-01"}, "より後です"),
    ({"kind": "handover", "format": "pdf", "contract": "nothing"}, "登録されていません"),
    ({"kind": "deletion", "format": "pdf"}, "契約を選んでください"),
    ({"kind": "access", "format": "pdf"}, "年度を入力してください"),
    ({"kind": "secret", "format": "pdf"}, "帳票の種類を選んでください"),
    ({"kind": "media", "format": "docx"}, "形式を選んでください"),
]


async def test_a_bad_request_shows_the_form_with_the_reason(portal: Portal) -> None:
    await portal.login("compliance")
    for params, message in BAD_REQUESTS:
        response = await portal.client.get("/compliance/reports/download", params=params)
        assert response.status == 400, params
        assert response.content_type == "text/html"
        assert message in await response.text()
    assert await audit_count(portal, "compliance.report.download", "failed") == len(BAD_REQUESTS)
    assert await audit_count(portal, "compliance.report.download") == 0


async def test_reports_page_offers_every_kind_and_the_contracts(portal: Portal) -> None:
    await portal.login("compliance")
    page = await (await portal.client.get("/compliance/reports")).text()
    for title in ("受渡し台帳", "媒体管理台帳", "印刷ログ確認結果", "データ消去状況一覧", "アクセスログ分析結果"):
        assert title in page
    assert 'value="main"' in page and 'href="/compliance/certificates"' in page
    assert "style=" not in page and "<script" not in page


async def issue_hub_certificate(portal: Portal) -> tuple[str, str]:
    """An issued hub certificate over the main contract's package, signed like the retention sweep signs."""
    key = SigningKey.generate("test.handover/ledger")
    now = datetime.now(UTC)
    async with portal.maker.begin() as session:
        package = await session.get_one(Package, portal.world.packages["main"].id)
        contract = await session.get_one(Contract, package.contract_id)
        certificate = HubDeletionCertificate(status=HubCertificateStatus.OPEN, opened_at=now - timedelta(minutes=5))
        session.add(certificate)
        await session.flush()
        copy = {"target": "store", "connector": None, "location": package.blob_key, "method": "logical-delete"}
        item = HubDeletionItem(
            certificate_id=certificate.id,
            package_id=package.id,
            due_at=now - timedelta(days=1),
            copies=[{**copy, "method_ja": "論理削除（ハブの保管領域から削除）", "verification": "exists() is false"}],
            erased_at=now,
        )
        session.add(item)
        await session.flush()
        number = certificate_number(certificate, now)
        signed = sign_document(
            build_document(certificate, number, [ErasedPackage(item, package, contract)], now, key.verifier), key
        )
        certificate.status, certificate.issued_at, certificate.number = HubCertificateStatus.ISSUED, now, number
        certificate.document, certificate.signature, certificate.vkey = signed.text, signed.signature, key.verifier.vkey
        return certificate.public_id, number


async def test_certificates_list_and_downloads(portal: Portal, tmp_path: Path) -> None:
    public_id, number = await issue_hub_certificate(portal)
    main_package = portal.world.packages["main"].public_id
    async with portal.maker.begin() as session:
        main = await session.get_one(Contract, portal.world.contracts["main"].id)
        created, _notices = await contractor_certs.request_certificates(
            session, main, datetime.now(UTC), reason="on_demand", due_days=30
        )
        request = next(r for r in created if r.contract_id == main.id)
        today = datetime.now(JST).date()
        form = Submission(
            (main_package,), ErasureMethod.PURGE, today, "業務用PC内蔵SSD", "見本 一郎", "見本 二郎", **FACTS
        )
        await contractor_certs.submit(session, request.public_id, form, datetime.now(UTC))

    await portal.login("compliance")
    page = await (await portal.client.get("/compliance/certificates")).text()
    assert number in page and "発行済み" in page
    assert f'href="/compliance/certificates/{public_id}.pdf"' in page
    assert "main契約（main）" in page and "sub契約（sub）" in page
    assert "1 / 1件" in page and "0 / 1件" in page  # main is certified, the sub-contractor has not answered
    assert "完了" in page and "未了" in page and "未提出" in page

    response = await portal.client.get(f"/compliance/certificates/{public_id}.json")
    assert response.status == 200 and response.content_type == "application/json"
    assert f"filename*=UTF-8''{number}.json" in response.headers["Content-Disposition"]
    document = await response.read()
    signature = (await (await portal.client.get(f"/compliance/certificates/{public_id}.sig")).read()).decode().strip()
    async with portal.maker() as session:
        row = await session.scalar(select(HubDeletionCertificate).where(HubDeletionCertificate.public_id == public_id))
    assert row is not None and row.vkey is not None
    name, _key_id, encoded = row.vkey.split("+", 2)
    verifier = VerifierKey(name, base64.b64decode(encoded)[1:])
    assert verifier.vkey == row.vkey  # the stored vkey names this key, with its key id
    assert verifier.verify(document, base64.b64decode(signature, validate=True))

    response = await portal.client.get(f"/compliance/certificates/{public_id}.pdf")
    assert response.status == 200 and response.content_type == "application/pdf"
    text = await pdf_text(await response.read(), tmp_path)
    assert "電子データ消去証明書" in text and number in text

    # Once exported, the files under data_dir/certificates are what is served.
    directory = portal.data_dir / "certificates"
    await certificate_files.write_files(row, directory)
    exported = await asyncio.to_thread((directory / f"{number}.pdf").read_bytes)
    assert await (await portal.client.get(f"/compliance/certificates/{public_id}.pdf")).read() == exported
    assert await audit_count(portal, "compliance.certificate.download") == 4


async def test_unknown_or_open_certificate_is_not_found(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        open_one = HubDeletionCertificate(status=HubCertificateStatus.OPEN, opened_at=datetime.now(UTC))
        session.add(open_one)
        await session.flush()
        open_id = open_one.public_id
    await portal.login("compliance")
    assert "消去処理中" in await (await portal.client.get("/compliance/certificates")).text()
    for public_id in (open_id, "00000000-0000-4000-8000-000000000000"):
        response = await portal.client.get(f"/compliance/certificates/{public_id}.pdf")
        assert response.status == 404
    assert await audit_count(portal, "compliance.certificate.download") == 0


async def test_others_are_refused_everything(portal: Portal) -> None:
    public_id, _number = await issue_hub_certificate(portal)
    paths = [
        "/compliance/reports",
        "/compliance/reports/download?kind=handover&format=csv&contract=main",
        "/compliance/certificates",
        f"/compliance/certificates/{public_id}.json",
    ]
    logins = ["a-handler", "staff-other", "staff-same"]
    for login in logins:
        await portal.login(login)
        for path in paths:
            response = await portal.client.get(path, allow_redirects=False)
            assert response.status == 403, (login, path)
            body = await response.text()
            assert "監査担当者のみ" in body and "main_データ.zip" not in body and "HDC-" not in body
    assert await audit_count(portal, "compliance.view", "denied") == len(logins) * len(paths)
    assert await audit_count(portal, "compliance.report.download") == 0
    assert await audit_count(portal, "compliance.certificate.download") == 0


async def test_anonymous_is_sent_to_login(portal: Portal) -> None:
    for path in (
        "/compliance/reports",
        "/compliance/reports/download?kind=media&format=pdf",
        "/compliance/certificates",
    ):
        response = await portal.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/"
