"""Downloads (Range, resume, limit), receipt, password pick-up under the split rule, uploads, API."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import FormData
from sqlalchemy import select

from exchange.identity import api_tokens
from exchange.keys import sealing
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile
from ledger.models.packages import Package
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal
from tests.factories import add_package


async def _count(portal: Portal, public_id: str) -> int:
    async with portal.maker() as session:
        package = (await session.execute(select(Package).where(Package.public_id == public_id))).scalar_one()
        return package.download_count


async def test_download_resume_and_limit(portal: Portal) -> None:
    client = portal.client
    package = portal.world.packages["main"]
    content = bytes(range(256)) * 64
    await portal.login("a-handler", client)
    url = f"/packages/{package.public_id}/download"
    response = await client.get(url)
    assert response.status == 200 and await response.read() == content
    assert "attachment" in response.headers["Content-Disposition"]
    partial = await client.get(url, headers={"Range": "bytes=1000-"})
    assert partial.status == 206 and await partial.read() == content[1000:]
    assert await _count(portal, package.public_id) == 1
    for _ in range(9):
        assert (await client.get(url)).status == 200
    refused = await client.get(url)
    assert refused.status == 403 and "上限（10回）" in await refused.text()
    # Resuming a counted transfer still works at the limit.
    assert (await client.get(url, headers={"Range": "bytes=5-9"})).status == 206
    await portal.login("a-manager", client)
    assert (await client.get(url, headers={"Range": "bytes=100-"})).status == 403


async def test_password_only_after_receipt_and_only_on_its_page(portal: Portal) -> None:
    ring = portal.world.keyring
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        package = await add_package(
            session, contract, delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=b"zip"
        )
        package.sealed_password = sealing.seal(
            ring.current, b"Secret-Zip-Pass-1234", package.public_id.encode()
        ).to_bytes()
    client = portal.client
    csrf = await portal.login("a-handler", client)
    detail = await (await client.get(f"/packages/{package.public_id}")).text()
    assert "Secret-Zip-Pass-1234" not in detail
    early = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    assert early.status == 403
    assert "受領確認" in await early.text() and "Secret-Zip-Pass-1234" not in await early.text()
    await client.post(f"/packages/{package.public_id}/acknowledge", data={"csrf_token": csrf})
    shown = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    assert shown.status == 200 and "Secret-Zip-Pass-1234" in await shown.text()
    assert shown.headers["Cache-Control"] == "no-store"
    download = await client.get(f"/packages/{package.public_id}/download")
    assert b"Secret-Zip-Pass-1234" not in await download.read()


def _form(csrf: str, content: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "print_log")
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return form


async def test_upload_is_stored_with_a_safe_name(portal: Portal) -> None:
    client = portal.client
    csrf = await portal.login("a-handler", client)
    contract = portal.world.contracts["main"].public_id
    ok = await client.post(
        f"/contracts/{contract}/inbound",
        data=_form(csrf, b"printer,pages\nA,3\n", "印刷ログ.csv"),
        allow_redirects=False,
    )
    assert ok.status == 303, await ok.text()
    bad = await client.post(f"/contracts/{contract}/inbound", data=_form(csrf, b"MZ", "run.exe"))
    assert bad.status == 400 and "受け付けられません" in await bad.text()
    async with portal.maker() as session:
        rows = (await session.execute(select(InboundFile))).scalars().all()
    assert [r.file_name for r in rows] == ["印刷ログ.csv"]
    assert rows[0].stored_path.startswith(str(portal.data_dir / "inbound" / contract))
    assert (portal.data_dir / "inbound" / contract).stat().st_mode & 0o077 == 0


async def test_api_with_token(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "b-handler"))).scalar_one()
        token = api_tokens.create(session, account, "LoGo連携", now=datetime.now(UTC))
    client = portal.client
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert "/packages/{package_id}/content" in spec["paths"]
    assert (await client.get("/api/v1/packages")).status == 401
    auth = {"Authorization": f"Bearer {token}"}
    listed = await (await client.get("/api/v1/packages", headers=auth)).json()
    assert [p["id"] for p in listed["packages"]] == [portal.world.packages["sub"].public_id]
    parent = portal.world.packages["main"].public_id
    assert (await client.get(f"/api/v1/packages/{parent}/content", headers=auth)).status == 404
    own = portal.world.packages["sub"].public_id
    body = await (await client.get(f"/api/v1/packages/{own}/content", headers=auth)).read()
    assert len(body) == 256 * 64
    acked = await (await client.post(f"/api/v1/packages/{own}/acknowledge", headers=auth)).json()
    assert acked["acknowledged_at"] is not None and acked["download_count"] == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", acked["id"])


async def test_frozen_package_cannot_be_downloaded(portal: Portal) -> None:
    """An incident freezes a package at once (C-18): the portal refuses its download from then on."""
    client = portal.client
    package = portal.world.packages["main"]
    await portal.login("a-handler", client)
    url = f"/packages/{package.public_id}/download"
    assert (await client.get(url)).status == 200
    async with portal.maker.begin() as session:
        row = (await session.execute(select(Package).where(Package.public_id == package.public_id))).scalar_one()
        row.frozen_at = datetime.now(UTC)
    refused = await client.get(url)
    assert refused.status == 403 and "凍結" in await refused.text()
    assert await _count(portal, package.public_id) == 1
