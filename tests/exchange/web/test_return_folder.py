"""Return folders (issue 14): an accepted upload is delivered into the ward's return folder as an AES-256 ZIP by the
duty ``inbound.returns``; its password never goes into the folder but to staff on the portal, under the
split-password rule (after the receipt is confirmed), and every step is a register line."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pyzipper
from aiohttp import FormData
from sqlalchemy import select

from connectors.options import SecretRef
from exchange.duties.scheduler import DutyConfig, DutyContext, DutyRunner
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from ledger.models.return_folders import ReturnDelivery, ReturnFolder
from ledger.tlog.checkpoint import generate_key_file
from tests.exchange.web.portal import Portal

CONTENT = (
    "印刷元コンピュータ名,印刷日時,印刷ファイル名,印刷先プリンタ名,印刷枚数\n"
    "PC-01,2026/08/03 10:15:00,notices.csv,PRN-1,3\n"
).encode()


def _content(name: str) -> bytes:
    return CONTENT.replace(b"notices.csv", name.encode())


SECRET = re.compile(r'id="return-password">([^<]+)<')


async def _upload(portal: Portal, name: str) -> str:
    csrf = await portal.login("a-handler")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "print_log")
    # Each upload a different print log (the same log twice is refused as a repeat).
    content = _content(name)
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    contract_id = portal.world.contracts["main"].public_id
    response = await portal.client.post(f"/contracts/{contract_id}/inbound", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with portal.maker() as session:
        return (
            await session.execute(select(InboundFile.public_id).order_by(InboundFile.id.desc()).limit(1))
        ).scalar_one()


async def _runner(portal: Portal, tmp_path: Path) -> DutyRunner:
    key = tmp_path / "ledger-signing.key"
    await asyncio.to_thread(generate_key_file, key, "test.handover/ledger")
    config = DutyConfig(
        signing_key=SecretRef(file=key),
        ledger_origin="test.handover/ledger",
        data_dir=portal.data_dir,
        master_key=SecretRef(file=tmp_path / "master.key"),  # the portal world's keyring (tests.factories.keyring)
    )
    return DutyRunner(DutyContext(portal.maker, {}, config, portal.blobs))


async def _deliver(runner: DutyRunner) -> dict[str, object]:
    run = await runner.run_now("inbound.returns")
    assert run is not None and run.result is not None
    return run.result


async def _register(portal: Portal, kind: str) -> list[dict[str, object]]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [json.loads(row)["data"] for row in rows]


def _read_zip(path: Path, password: str) -> dict[str, bytes]:
    with pyzipper.AESZipFile(path) as archive:
        archive.setpassword(password.encode())
        return {name: archive.read(name) for name in archive.namelist()}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_accepted_upload_arrives_as_an_aes_zip_and_its_password_goes_another_way(
    portal: Portal, tmp_path: Path
) -> None:
    folder = tmp_path / "intranet" / "returns"
    async with portal.maker.begin() as session:
        session.add(
            ReturnFolder(code="ret-welfare", path=str(folder), section="生活福祉課", password_channels=["portal"])
        )
    upload_id = await _upload(portal, "print.csv")
    held_id = await _upload(portal, "held.csv")
    async with portal.maker.begin() as session:
        held = (await session.execute(select(InboundFile).where(InboundFile.public_id == held_id))).scalar_one()
        held.status, held.reason_ja = InboundStatus.QUARANTINED, "確認が必要です。"
    runner = await _runner(portal, tmp_path)

    assert await _deliver(runner) == {"delivered": 1, "failed": 0}
    [zip_name] = await asyncio.to_thread(_files, folder)
    assert zip_name.startswith("print_") and zip_name.endswith(".zip")
    raw = await asyncio.to_thread((folder / zip_name).read_bytes)
    assert b"PC-01" not in raw  # encrypted: the folder holds no plain text, and no password beside the ZIP
    [line] = await _register(portal, "inbound.return_delivered")
    assert line["details"]["upload"] == upload_id and line["channel"] == "return_folder"  # type: ignore[index]
    assert line["quantity"]["bytes"] == len(_content("print.csv"))  # type: ignore[index]
    assert await _deliver(runner) == {"delivered": 0, "failed": 0}  # once per upload

    client = portal.client
    csrf = await portal.login("staff-same")
    detail = await (await client.get(f"/staff/inbound/{upload_id}")).text()
    assert zip_name in detail
    async with portal.maker() as session:
        delivery = (await session.execute(select(ReturnDelivery))).scalar_one()
    pickup = f"/staff/returns/{delivery.public_id}/password"
    # Not yet: neither confirmed nor the contract's delay passed since it was placed.
    early = await client.post(pickup, data={"csrf_token": csrf})
    assert early.status == 403 and "受領確認" in await early.text()
    acknowledged = await client.post(
        f"/staff/returns/{delivery.public_id}/acknowledge", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert acknowledged.status == 303
    [receipt] = await _register(portal, "inbound.return_acknowledged")
    assert "staff-same" in str(receipt["handler_to"])
    shown = await client.post(pickup, data={"csrf_token": csrf})
    match = SECRET.search(await shown.text())
    assert shown.status == 200 and match, await shown.text()
    contents = await asyncio.to_thread(_read_zip, folder / zip_name, match.group(1))
    assert contents["print.csv"] == _content("print.csv")
    manifest = json.loads(contents["manifest.json"])
    assert manifest["contract"]["id"] == portal.world.contracts["main"].public_id
    released = [r for r in await _register(portal, "password.released") if "return" in r["details"]]  # type: ignore[operator]
    refused = [r for r in await _register(portal, "password.refused") if "return" in r["details"]]  # type: ignore[operator]
    assert len(released) == 1 and len(refused) == 1 and released[0]["channel"] == "portal"

    # Another section's staff cannot pick it up; a printed notice is not a channel this folder allows.
    await portal.login("staff-other")
    assert (await client.get(pickup)).status == 404

    # The held upload goes to the folder only once staff release it.
    csrf = await portal.login("staff-same")
    release = await client.post(
        f"/staff/inbound/{held_id}/release", data={"csrf_token": csrf, "reason": "確認済み"}, allow_redirects=False
    )
    assert release.status == 303
    assert await _deliver(runner) == {"delivered": 1, "failed": 0}
    assert len(await asyncio.to_thread(_files, folder)) == 2
