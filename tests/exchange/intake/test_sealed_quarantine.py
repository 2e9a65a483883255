"""Issue 14: a drop the intake refuses is sealed at rest in the blob store (nothing readable under the data
directory or in the watched folder), and the section's staff release it after a fix, discard it, or take out the
original — on the staff page and with ``handover quarantine`` — each a register line naming them and an audit
event."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select, update

from exchange.blobs.local import LocalBlobStore
from exchange.hub import HubServices
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models import Contract, IntakeFile, IntakeStatus, LedgerEntry, PackageStatus
from ledger.models.audit import AuditEvent
from ledger.models.parties import Person
from tests.exchange.admin.test_subcontract_commands import _config, cli
from tests.exchange.helpers import intakes, packages, process, route_dir
from tests.exchange.web.portal import Portal
from tests.factories import PortalWorld, add_account, add_totp

MARKER = "見本花子QMARK7391"
STAFF = "区役 三郎（staff-chiiki）"  # as the portal and the command line name the S4 section's staff member
ROUTE = "s4-applicants"  # its contract s4-main ended on 2026-10-31: every drop is refused until it is extended


S4_HEADER = (
    "申請受付番号,氏名,住所,生年月日,電話番号,世帯構成,住民税区分,児童扶養手当受給の有無,生活保護受給の有無,"
    "エアコン保有状況,建物状況,申請日,交付決定日,振込先口座情報,交付額確定日,交付額"
)


def _payload(n: int) -> bytes:
    """A valid S4 applicants' file of one dummy record, its name a marker to look for in the hub's files."""
    row = (
        f"AC{n:06d},{MARKER}{n},東京都見本区仮名町4丁目6番20号,1933-08-19,03-0000-4242,ひとり親と子（乳幼児あり）,"
        "均等割のみ,無,有,未保有,戸建て（持家）,2026-05-01,2026-05-20,見本銀行 試験支店 普通 8577766,2026-06-30,100000"
    )
    return f"{S4_HEADER}\n{row}\n".encode()


def _holding(root: Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle`` (the database's own files are outside ``root``)."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink() and needle in path.read_bytes():
                found.append(path)
    return found


async def _plaintext_anywhere(hub: HubServices, folder: Path) -> list[Path]:
    needle = MARKER.encode()
    return await asyncio.to_thread(lambda: _holding(hub.settings.data_dir, needle) + _holding(folder, needle))


async def _drop_refused(hub: HubServices, name: str, n: int) -> tuple[Path, IntakeFile]:
    folder = await route_dir(hub, ROUTE)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((folder / name).write_bytes, _payload(n))
    await process(hub)
    [intake] = [i for i in await intakes(hub) if i.file_name == name and i.resolution is None]
    assert intake.status == IntakeStatus.QUARANTINED and "契約期間外" in (intake.reason_ja or "")
    return folder, intake


async def _extend_contract(hub: HubServices) -> None:
    async with hub.sessions.begin() as session:
        await session.execute(update(Contract).where(Contract.code == "s4-main").values(ends_on=date(2099, 3, 31)))


async def _register(hub: HubServices, kind: str) -> list[dict[str, Any]]:
    """The register lines of ``kind``, as the handover report reads them."""
    async with hub.sessions() as session:
        rows = await session.execute(
            select(LedgerEntry.entry).where(LedgerEntry.kind == kind).order_by(LedgerEntry.idx)
        )
        return [json.loads(raw)["data"] for raw in rows.scalars()]


async def _audited(hub: HubServices, action: str) -> int:
    async with hub.sessions() as session:
        rows = await session.execute(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == "allowed")
        )
        return len(rows.all())


@pytest.fixture
async def staff_portal(hub: HubServices, aiohttp_client: AiohttpClient) -> AsyncIterator[Portal]:
    """The hub's portal, with accounts for the S4 section's staff (地域福祉課), another section's and a contractor."""
    world = PortalWorld(hub.keyring)
    async with hub.sessions.begin() as session:
        for code in ("staff-chiiki", "staff-welfare", "c-handler"):
            person = (await session.execute(select(Person).where(Person.code == code))).scalar_one()
            account = await add_account(session, code, person.role, person)
            world.secrets[code] = await add_totp(session, account, hub.keyring)
    deps = PortalDeps(keyring=hub.keyring, blobs=hub.blobs)
    client = await aiohttp_client(create_app(hub.sessions, deps=deps))
    blobs = await asyncio.to_thread(LocalBlobStore, _blob_root(hub))
    yield Portal(client, world, hub.sessions, hub.settings.data_dir, blobs)


def _blob_root(hub: HubServices) -> Path:
    """The hub's local blob folder (``[blobs]`` unset: ``DATA_DIR/blobs``)."""
    return hub.settings.data_dir / "blobs"


async def test_a_refused_drop_is_sealed_and_released_from_the_staff_page_after_the_fix(
    hub: HubServices, staff_portal: Portal
) -> None:
    folder, intake = await _drop_refused(hub, "申請者.csv", 1)
    assert intake.sealed_key == f"quarantine/{intake.public_id}"
    sealed = intake.sealed_key
    assert await hub.blobs.size(sealed) is not None
    assert await _plaintext_anywhere(hub, folder) == [], "no plaintext under the data directory or the folder"
    outcome = json.loads(await asyncio.to_thread((folder / "申請者.csv.result.json").read_text, encoding="utf-8"))
    assert outcome["status"] == "quarantined" and outcome["sealed"] and "契約期間外" in outcome["reason"]
    told = await asyncio.to_thread((folder / "申請者.csv.result.txt").read_text, encoding="utf-8")
    assert "暗号化して隔離" in told and "契約期間外" in told

    client = staff_portal.client
    csrf = await staff_portal.login("staff-chiiki")
    listing = await (await client.get("/staff")).text()
    assert "申請者.csv" in listing and "契約期間外" in listing and f"{len(_payload(1)):,} バイト" in listing
    assert f"/staff/quarantine/{intake.public_id}/release" in listing

    # Another section's staff and a contractor may not take it out.
    download = f"/staff/quarantine/{intake.public_id}/download"
    other_csrf = await staff_portal.login("staff-welfare")
    assert "申請者.csv" not in await (await client.get("/staff")).text()
    refused = await client.post(download, data={"csrf_token": other_csrf}, allow_redirects=False)
    assert refused.status == 403
    contractor_csrf = await staff_portal.login("c-handler")
    refused = await client.post(download, data={"csrf_token": contractor_csrf}, allow_redirects=False)
    assert refused.status in (403, 404)

    csrf = await staff_portal.login("staff-chiiki")
    taken = await client.post(download, data={"csrf_token": csrf}, allow_redirects=False)
    assert taken.status == 200 and await taken.read() == _payload(1)
    [line] = await _register(hub, "intake.quarantine_downloaded")
    assert line["handler_from"] == STAFF and line["details"]["intake_id"] == intake.public_id
    assert await _audited(hub, "quarantine.download") == 1

    # Released before the fix: checked again, refused again, sealed under the new intake; the old copy erased.
    release = f"/staff/quarantine/{intake.public_id}/release"
    assert (await client.post(release, data={"csrf_token": csrf}, allow_redirects=False)).status == 303
    again = await client.post(release, data={"csrf_token": csrf}, allow_redirects=False)
    assert again.status == 404, "released once only"
    await process(hub)
    [second] = [i for i in await intakes(hub) if i.released_from_id == intake.id]
    assert second.status == IntakeStatus.QUARANTINED and second.sealed_key is not None
    assert await hub.blobs.size(sealed) is None, "the earlier sealed copy is erased"
    assert await _plaintext_anywhere(hub, folder) == []

    # The contract is extended: released again, it now passes and is delivered; nothing sealed is left.
    await _extend_contract(hub)
    release = f"/staff/quarantine/{second.public_id}/release"
    assert (await client.post(release, data={"csrf_token": csrf}, allow_redirects=False)).status == 303
    await process(hub)
    [third] = [i for i in await intakes(hub) if i.released_from_id == second.id]
    assert third.status == IntakeStatus.FINISHED, third.reason_ja
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED]
    assert [key async for key in hub.blobs.keys("quarantine/")] == []
    assert [i for i in await intakes(hub) if i.sealed_key is not None] == []
    released = await _register(hub, "intake.released")
    assert len(released) == 2 and all(r["handler_from"] == STAFF for r in released)
    assert await _audited(hub, "quarantine.release") == 2
    assert "申請者.csv" not in await (await client.get("/staff")).text()


async def test_discard_from_the_staff_page_erases_the_sealed_drop(hub: HubServices, staff_portal: Portal) -> None:
    _folder, intake = await _drop_refused(hub, "不要.csv", 2)
    assert intake.sealed_key is not None
    csrf = await staff_portal.login("staff-chiiki")
    discard = f"/staff/quarantine/{intake.public_id}/discard"
    empty = await staff_portal.client.post(discard, data={"csrf_token": csrf, "reason": " "}, allow_redirects=False)
    assert empty.status == 400
    done = await staff_portal.client.post(
        discard, data={"csrf_token": csrf, "reason": "誤って置いたファイル"}, allow_redirects=False
    )
    assert done.status == 303
    assert await hub.blobs.size(intake.sealed_key) is None
    [line] = await _register(hub, "intake.discarded")
    assert line["handler_from"] == STAFF and "誤って置いたファイル" in line["content"]
    assert line["category"] == "消去"
    assert await _audited(hub, "quarantine.discard") == 1
    async with hub.sessions() as session:
        row = await session.get(IntakeFile, intake.id)
        assert row is not None and row.resolution == "discarded" and row.sealed_key is None


async def test_staff_release_discard_and_download_on_the_command_line(
    hub: HubServices, tmp_path: Path, db_url: str
) -> None:
    folder, first = await _drop_refused(hub, "一件目.csv", 3)
    _folder, second = await _drop_refused(hub, "二件目.csv", 4)
    assert await _plaintext_anywhere(hub, folder) == []
    config = await asyncio.to_thread(_config, tmp_path, db_url)

    listed = await cli(config, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {first.public_id, second.public_id}
    assert rows[first.public_id]["route"] == ROUTE and "契約期間外" in rows[first.public_id]["reason"]
    text = await cli(config, "quarantine", "list")
    assert "一件目.csv" in text.stdout and "理由: " in text.stdout and "バイト" in text.stdout

    out = tmp_path / "taken.csv"
    wrong = await cli(config, "quarantine", "download", first.public_id, "--by", "staff-welfare", "--out", str(out))
    assert wrong.returncode != 0 and "地域福祉課の職員ではありません" in wrong.stderr
    assert not await asyncio.to_thread(out.exists)
    taken = await cli(config, "quarantine", "download", first.public_id, "--by", "staff-chiiki", "--out", str(out))
    assert taken.returncode == 0, taken.stderr
    assert await asyncio.to_thread(out.read_bytes) == _payload(3)
    await asyncio.to_thread(out.unlink)

    discarded = await cli(config, "quarantine", "discard", second.public_id, "--by", "staff-chiiki", "--reason", "重複")
    assert discarded.returncode == 0, discarded.stderr
    assert await hub.blobs.size(second.sealed_key or "") is None

    await _extend_contract(hub)
    released = await cli(config, "quarantine", "release", first.public_id, "--by", "staff-chiiki")
    assert released.returncode == 0, released.stderr
    await process(hub)  # the running hub's workers
    [queued] = [i for i in await intakes(hub) if i.released_from_id == first.id]
    assert queued.status == IntakeStatus.FINISHED, queued.reason_ja
    assert "（新しい受付ID: " in released.stdout and queued.public_id in released.stdout

    left = await cli(config, "quarantine", "list", "--json")
    assert json.loads(left.stdout) == []
    shown = await cli(config, "quarantine", "show", second.public_id)
    assert shown.returncode == 0, shown.stderr
    decided = json.loads(shown.stdout)
    assert decided["resolution"] == "discarded" and decided["resolved_by"] == STAFF and decided["resolved_at"]
    for kind, count in (("intake.quarantine_downloaded", 1), ("intake.discarded", 1), ("intake.released", 1)):
        lines = await _register(hub, kind)
        assert len(lines) == count and all(e["handler_from"] == STAFF for e in lines)
    for action in ("quarantine.download", "quarantine.discard", "quarantine.release"):
        assert await _audited(hub, action) == 1
    assert await _plaintext_anywhere(hub, folder) == []


async def test_a_sealed_drop_under_another_drops_name_does_not_open(hub: HubServices, staff_portal: Portal) -> None:
    _folder, first = await _drop_refused(hub, "甲.csv", 5)
    _folder, second = await _drop_refused(hub, "乙.csv", 6)
    assert first.sealed_key is not None and second.sealed_key is not None
    # Someone with access to the store puts the first drop's sealed blob in place of the second's.
    await hub.blobs.put(second.sealed_key, hub.blobs.read(first.sealed_key))
    csrf = await staff_portal.login("staff-chiiki")
    download = f"/staff/quarantine/{second.public_id}/download"
    answer = await staff_portal.client.post(download, data={"csrf_token": csrf}, allow_redirects=False)
    assert answer.status == 500 and "復号できません" in await answer.text()
    assert MARKER.encode() not in await answer.read()
    assert await _register(hub, "intake.quarantine_downloaded") == [], "nothing handed over, nothing recorded"


async def test_a_drop_that_cannot_be_sealed_is_set_aside_as_before_never_lost(
    hub: HubServices, staff_portal: Portal
) -> None:
    # The quarantine's folder in the store cannot be created (a file stands where it should be): sealing fails.
    await asyncio.to_thread((_blob_root(hub) / "quarantine").write_bytes, b"")
    folder, intake = await _drop_refused(hub, "封緘不可.csv", 7)
    assert intake.sealed_key is None
    outcome = json.loads(await asyncio.to_thread((folder / "封緘不可.csv.result.json").read_text, encoding="utf-8"))
    assert not outcome["sealed"] and outcome["quarantined_as"]
    kept = Path(outcome["quarantined_as"])
    assert await asyncio.to_thread(kept.read_bytes) == _payload(7), "moved to the route's quarantine folder"
    assert "契約期間外" in await asyncio.to_thread(Path(f"{kept}.reason.txt").read_text, encoding="utf-8")
    await staff_portal.login("staff-chiiki")
    listing = await (await staff_portal.client.get("/staff")).text()
    assert "封緘不可.csv" in listing and "暗号化されていません" in listing
