"""The ward's inbox (issue 14): staff of the owning section see who sent what back and take it (recorded), decide on
a quarantined upload, and a sub-contractor's upload reaches the contractor above it."""

from __future__ import annotations

from aiohttp import FormData
from sqlalchemy import select

from ledger.models.audit import AuditEvent
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from tests.exchange.web.portal import Portal

CONTENT = (
    "印刷元コンピュータ名,印刷日時,印刷ファイル名,印刷先プリンタ名,印刷枚数\n"
    "PC-01,2026/08/03 10:15:00,notices.csv,PRN-1,3\n"
    "PC-02,2026/08/03 10:20:00,notices.csv,PRN-1,4\n"
).encode()


async def upload(portal: Portal, login: str, contract: str, name: str = "print.csv", data: bytes = CONTENT) -> str:
    """Upload ``data`` as ``login`` on the contractor portal (the real path); returns the new upload's id."""
    csrf = await portal.login(login)
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "print_log")
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    contract_id = portal.world.contracts[contract].public_id
    response = await portal.client.post(f"/contracts/{contract_id}/inbound", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with portal.maker() as session:
        return (
            await session.execute(select(InboundFile.public_id).order_by(InboundFile.id.desc()).limit(1))
        ).scalar_one()


async def _register(portal: Portal, kind: str) -> list[str]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [row.decode() for row in rows]


async def _audit(portal: Portal, action: str) -> list[AuditEvent]:
    async with portal.maker() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def _upload_row(portal: Portal, public_id: str) -> InboundFile:
    async with portal.maker() as session:
        return (await session.execute(select(InboundFile).where(InboundFile.public_id == public_id))).scalar_one()


async def _quarantine(portal: Portal, public_id: str, reason: str) -> None:
    """What the contractor-side checks do to an upload they hold back (set here, as their outcome)."""
    async with portal.maker.begin() as session:
        row = (await session.execute(select(InboundFile).where(InboundFile.public_id == public_id))).scalar_one()
        row.status, row.reason_ja = InboundStatus.QUARANTINED, reason


async def test_staff_see_and_take_what_came_back(portal: Portal) -> None:
    upload_id = await upload(portal, "a-handler", "main")
    client = portal.client

    await portal.login("staff-same")
    staff_page = await (await client.get("/staff")).text()
    assert 'href="/staff/inbound"' in staff_page
    listing = await client.get("/staff/inbound")
    text = await listing.text()
    assert listing.status == 200
    for shown in ("print.csv", "印刷ログ", "a-handler", str(len(CONTENT)), "受領", portal.world.contracts["main"].name):
        assert shown in text, shown
    detail = await (await client.get(f"/staff/inbound/{upload_id}")).text()
    assert f"/inbound/{upload_id}/download" in detail

    taken = await client.get(f"/inbound/{upload_id}/download")
    assert taken.status == 200 and await taken.read() == CONTENT
    assert "print.csv" in taken.headers["Content-Disposition"]
    [line] = await _register(portal, "inbound.fetched")
    assert "staff-same" in line and "print.csv" in line and '"channel":"portal"' in line.replace(" ", "")
    [event] = await _audit(portal, "inbound.fetch")
    assert event.outcome == "allowed" and event.object_id == upload_id

    # Another section's staff do not see it, nor take it; the compliance officer reads but does not take.
    await portal.login("staff-other")
    assert "print.csv" not in await (await client.get("/staff/inbound")).text()
    assert (await client.get(f"/inbound/{upload_id}/download")).status == 404
    await portal.login("compliance")
    assert "print.csv" in await (await client.get("/staff/inbound")).text()
    assert (await client.get(f"/inbound/{upload_id}/download")).status == 403
    # A contractor is not the ward: no inbox.
    await portal.login("c-handler")
    assert (await client.get("/staff/inbound")).status == 404
    assert len(await _register(portal, "inbound.fetched")) == 1


async def test_quarantined_upload_is_released_or_discarded_by_staff(portal: Portal) -> None:
    kept = await upload(portal, "a-handler", "main", "kept.csv")
    dropped = await upload(
        portal, "a-handler", "main", "dropped.csv", CONTENT.replace(b"notices.csv", b"secret-marker-7731.csv")
    )
    await _quarantine(portal, kept, "収集させる項目にない列「宗教」があります。")
    await _quarantine(portal, dropped, "収集させる項目にない列「前科」があります。")
    sealed_key = (await _upload_row(portal, dropped)).blob_key
    assert await portal.blobs.size(sealed_key) is not None
    client = portal.client

    csrf = await portal.login("staff-same")
    quarantined = await (await client.get("/staff/inbound?status=quarantined")).text()
    assert "kept.csv" in quarantined and "宗教" in quarantined
    # Staff may download a quarantined file to review it.
    review = await client.get(f"/inbound/{kept}/download")
    assert review.status == 200 and await review.read() == CONTENT

    empty = await client.post(f"/staff/inbound/{kept}/release", data={"csrf_token": csrf, "reason": " "})
    assert empty.status == 400 and "理由" in await empty.text()
    released = await client.post(
        f"/staff/inbound/{kept}/release",
        data={"csrf_token": csrf, "reason": "列名の誤記と確認した"},
        allow_redirects=False,
    )
    assert released.status == 303
    assert (await _upload_row(portal, kept)).status is InboundStatus.RELEASED
    [line] = await _register(portal, "inbound.released")
    assert "列名の誤記と確認した" in line and "staff-same" in line

    discarded = await client.post(
        f"/staff/inbound/{dropped}/discard",
        data={"csrf_token": csrf, "reason": "契約外の項目のため"},
        allow_redirects=False,
    )
    assert discarded.status == 303
    assert (await _upload_row(portal, dropped)).status is InboundStatus.DISCARDED
    [line] = await _register(portal, "inbound.discarded")
    assert "契約外の項目のため" in line and "staff-same" in line
    assert (await client.get(f"/inbound/{dropped}/download")).status == 400
    # Its sealed blob is gone (the row stays as the record), and a decided upload is not decided again.
    assert await portal.blobs.size(sealed_key) is None
    again = await client.post(f"/staff/inbound/{dropped}/release", data={"csrf_token": csrf, "reason": "x"})
    assert again.status == 400
    decisions = await _audit(portal, "inbound.decide")
    assert sorted(e.detail["op"] for e in decisions if e.outcome == "allowed") == ["discard", "release"]

    # Another section's staff cannot decide; the compliance officer cannot either.
    for login in ("staff-other", "compliance"):
        csrf = await portal.login(login)
        refused = await client.post(f"/staff/inbound/{kept}/discard", data={"csrf_token": csrf, "reason": "x"})
        assert refused.status == 403, login
    assert (await _upload_row(portal, kept)).status is InboundStatus.RELEASED


async def test_sub_contractor_upload_reaches_the_contractor_above_and_the_ward(portal: Portal) -> None:
    upload_id = await upload(portal, "b-handler", "sub", "sub_print.csv")
    client = portal.client

    await portal.login("a-handler")
    home = await (await client.get("/")).text()
    assert 'href="/inbound/subcontracts"' in home
    chain = await (await client.get("/inbound/subcontracts")).text()
    assert "sub_print.csv" in chain and "b-handler" in chain
    taken = await client.get(f"/inbound/{upload_id}/download")
    assert taken.status == 200 and await taken.read() == CONTENT
    [line] = await _register(portal, "inbound.fetched")
    assert "a-handler" in line

    # Another contractor sees nothing of it; the ward's section sees it in its inbox.
    await portal.login("c-handler")
    assert "sub_print.csv" not in await (await client.get("/inbound/subcontracts")).text()
    assert (await client.get(f"/inbound/{upload_id}/download")).status == 404
    await portal.login("staff-same")
    assert "sub_print.csv" in await (await client.get("/staff/inbound")).text()
    # The sub-contractor itself has no chain below it, and the parent's own uploads are not shown to it.
    await upload(portal, "a-handler", "main", "parent_own.csv")
    await portal.login("b-handler")
    assert "parent_own.csv" not in await (await client.get("/inbound/subcontracts")).text()


async def test_a_quarantined_sub_contractor_upload_waits_for_the_ward(portal: Portal) -> None:
    upload_id = await upload(portal, "b-handler", "sub", "held.csv")
    await _quarantine(portal, upload_id, "確認が必要です。")
    await portal.login("a-handler")
    refused = await portal.client.get(f"/inbound/{upload_id}/download")
    assert refused.status == 400 and "隔離中" in await refused.text()
    assert await _register(portal, "inbound.fetched") == []
