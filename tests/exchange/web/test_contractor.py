"""Downloads (Range, resume, limit), receipt, password pick-up under the split rule, uploads, API."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from aiohttp import FormData
from sqlalchemy import select

from exchange.identity import api_tokens
from exchange.keys import sealing
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package, PasswordRelease
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal
from tests.factories import add_package, add_route_target


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
    # The first transfer completed: a later Range is a new copy, not a resume, so it is counted.
    partial = await client.get(url, headers={"Range": "bytes=1000-"})
    assert partial.status == 206 and await partial.read() == content[1000:]
    assert await _count(portal, package.public_id) == 2
    for _ in range(8):
        assert (await client.get(url)).status == 200
    refused = await client.get(url)
    assert refused.status == 403 and "上限（10回）" in await refused.text()
    assert (await client.get(url, headers={"Range": "bytes=5-9"})).status == 403
    await portal.login("a-manager", client)
    assert (await client.get(url, headers={"Range": "bytes=100-"})).status == 403


async def _ended(portal: Portal, public_id: str) -> list[bool]:
    async with portal.maker() as session:
        rows = await session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "package.download.end", AuditEvent.object_id == public_id)
            .order_by(AuditEvent.id)
        )
        return [bool(detail["completed"]) for detail in rows.scalars()]


async def test_range_after_a_complete_download_is_counted_on_portal_and_api(portal: Portal) -> None:
    """`Range: bytes=1-` after one complete download must not give uncounted full copies (issue 12)."""
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "a-handler"))).scalar_one()
        token = api_tokens.create(session, account, "連携", now=datetime.now(UTC))
    client = portal.client
    package = portal.world.packages["main"]
    await portal.login("a-handler", client)
    assert (await client.get(f"/packages/{package.public_id}/download")).status == 200
    copies = 1
    for i in range(10):
        if i % 2:
            response = await client.get(f"/packages/{package.public_id}/download", headers={"Range": "bytes=1-"})
        else:
            response = await client.get(
                f"/api/v1/packages/{package.public_id}/content",
                headers={"Range": "bytes=1-", "Authorization": f"Bearer {token}"},
            )
        if response.status == 206:
            await response.read()
            copies += 1
    assert copies == 10  # the limit, not 11
    assert await _count(portal, package.public_id) == 10


async def test_interrupted_download_resumes_once_uncounted(portal: Portal) -> None:
    content = bytes(range(256)) * (128 * 1024)  # 32 MiB: more than the socket buffers hold
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        package = await add_package(
            session, contract, delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=content
        )
    client = portal.client
    await portal.login("a-handler", client)
    url = f"/packages/{package.public_id}/download"
    broken = await client.get(url)
    assert broken.status == 200
    received = await broken.content.readexactly(64 * 1024)
    broken.close()  # drop the connection mid-transfer, as a failing line does
    for _ in range(200):
        if await _ended(portal, package.public_id):
            break
        await asyncio.sleep(0.05)
    assert await _ended(portal, package.public_id) == [False]
    resumed = await client.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert resumed.status == 206 and received + await resumed.read() == content
    assert await _count(portal, package.public_id) == 1
    assert await _ended(portal, package.public_id) == [False, True]
    again = await client.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert again.status == 206
    await again.read()
    assert await _count(portal, package.public_id) == 2


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
        # Delivered by the ward's outbox and verified there (as the pipeline records it): the data did not go
        # through the portal, so the portal may carry its password.
        package.location = {"connector": "outbox", "folder": "main", "location": "/srv/outbox/main/x.zip"}
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


async def test_portal_pick_up_refused_when_the_route_allows_only_notices(portal: Portal) -> None:
    ring = portal.world.keyring
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        target = await add_route_target(session, contract, ["notice"])
        package = await add_package(
            session,
            contract,
            delivered_at=datetime.now(UTC),
            store=portal.data_dir.parent / "store",
            data=b"zip",
            route_target_id=target.id,
        )
        package.sealed_password = sealing.seal(
            ring.current, b"Secret-Zip-Pass-1234", package.public_id.encode()
        ).to_bytes()
    client = portal.client
    csrf = await portal.login("a-handler", client)
    assert (await client.get(f"/packages/{package.public_id}/download")).status == 200
    await client.post(f"/packages/{package.public_id}/acknowledge", data={"csrf_token": csrf})
    refused = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    text = await refused.text()
    assert refused.status == 403 and "認められていません" in text and "Secret-Zip-Pass-1234" not in text
    async with portal.maker() as session:
        rows = (await session.execute(select(PasswordRelease).where(PasswordRelease.package_id == package.id))).all()
        entries = (await session.execute(select(LedgerEntry.kind, LedgerEntry.entry))).all()
    assert [(r.allowed, r.channel, r.reason_code) for (r,) in rows] == [
        (False, "portal", "password.channel_not_allowed")
    ]
    assert any(kind == "password.refused" and package.public_id in str(entry) for kind, entry in entries)


async def test_acknowledging_an_undownloaded_package_is_refused(portal: Portal) -> None:
    package = portal.world.packages["main"]
    client = portal.client
    csrf = await portal.login("a-handler", client)
    refused = await client.post(f"/packages/{package.public_id}/acknowledge", data={"csrf_token": csrf})
    assert refused.status == 403 and "受け取られていない" in await refused.text()
    async with portal.maker() as session:
        row = (await session.execute(select(Package).where(Package.public_id == package.public_id))).scalar_one()
        assert row.acknowledged_at is None
    assert (await client.get(f"/packages/{package.public_id}/download")).status == 200
    await client.post(f"/packages/{package.public_id}/acknowledge", data={"csrf_token": csrf})
    async with portal.maker() as session:
        row = (await session.execute(select(Package).where(Package.public_id == package.public_id))).scalar_one()
        assert row.acknowledged_at is not None


def _form(csrf: str, content: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "entered_data")  # a print log is parsed on arrival: see test_printing_portal.py
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
    # The row keeps the blob key of a sealed blob, never a path.
    assert rows[0].blob_key == f"uploads/{rows[0].public_id}" and rows[0].sealed
    assert (portal.blobs.root / "uploads").stat().st_mode & 0o077 == 0


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


async def test_password_refused_on_the_portal_that_carried_the_data(portal: Portal) -> None:
    """Another occasion by another channel (C-02): the contract's delay has passed, yet neither the session that
    downloaded the data nor a later login gets the password on the portal; the refusal says why and which ways
    remain (the channel is decided before the session, so it never sends the person to log in again in vain)."""
    ring = portal.world.keyring
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        contract.password_delay_hours = 24
        package = await add_package(
            session,
            contract,
            delivered_at=datetime.now(UTC) - timedelta(hours=25),
            store=portal.data_dir.parent / "store",
            data=b"zip",
        )
        package.sealed_password = sealing.seal(
            ring.current, b"Secret-Zip-Pass-1234", package.public_id.encode()
        ).to_bytes()
    client = portal.client
    csrf = await portal.login("a-handler", client)
    cookie = next(c.value for c in client.session.cookie_jar if c.key == "handover_session")
    assert (await client.get(f"/packages/{package.public_id}/download")).status == 200
    same = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    text = await same.text()
    assert same.status == 403 and "別の経路" in text and "ログイン" not in text and "Secret-Zip-Pass-1234" not in text
    # A new login is another occasion, but the data went by the portal: its password must go another way.
    csrf = await portal.login("a-handler", client)
    later = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    text = await later.text()
    assert later.status == 403 and "別の経路" in text and "Secret-Zip-Pass-1234" not in text
    async with portal.maker() as session:
        rows = (await session.execute(select(PasswordRelease).where(PasswordRelease.package_id == package.id))).all()
        refused = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "password.refused"))
        ).scalars()
        downloads = (
            await session.execute(
                select(AuditEvent.login_session).where(
                    AuditEvent.action == "package.download", AuditEvent.object_id == package.public_id
                )
            )
        ).scalars()
        [occasion] = list(downloads)
    assert [(r.allowed, r.reason_code) for (r,) in rows] == [
        (False, "password.same_channel"),
        (False, "password.same_channel"),
    ]
    assert any(package.public_id in line and "password.same_channel" in line for line in map(bytes.decode, refused))
    # The download row names its login by a hash: neither the cookie nor its stored hash.
    assert occasion is not None and occasion.startswith("web:") and cookie not in occasion
    assert api_tokens.digest(cookie).hex() not in occasion


async def test_an_api_download_keeps_the_password_off_the_portal(portal: Portal) -> None:
    """The API is the portal's door (policies.channels): data fetched by API gets its password another way."""
    ring = portal.world.keyring
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "sub"))).scalar_one()
        package = await add_package(
            session, contract, delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=b"zip"
        )
        package.sealed_password = sealing.seal(
            ring.current, b"Secret-Zip-Pass-1234", package.public_id.encode()
        ).to_bytes()
        account = (await session.execute(select(Account).where(Account.login == "b-handler"))).scalar_one()
        token = api_tokens.create(session, account, "LoGo連携", now=datetime.now(UTC))
    client = portal.client
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/v1/packages/{package.public_id}/content", headers=auth)).status == 200
    assert (await client.post(f"/api/v1/packages/{package.public_id}/acknowledge", headers=auth)).status == 200
    csrf = await portal.login("b-handler", client)
    refused = await client.post(f"/packages/{package.public_id}/password", data={"csrf_token": csrf})
    text = await refused.text()
    assert refused.status == 403 and "別の経路" in text and "Secret-Zip-Pass-1234" not in text
    async with portal.maker() as session:
        rows = (await session.execute(select(PasswordRelease).where(PasswordRelease.package_id == package.id))).all()
    assert [(r.allowed, r.reason_code) for (r,) in rows] == [(False, "password.same_channel")]
