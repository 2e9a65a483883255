"""Issue 15: two hub processes on different hosts (their own data directories, one database, one blob store) see
the same sealed files: a contractor's upload through one hub's portal is taken by staff through the other's, and
no plain byte of it lies under either data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import FormData
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from exchange.blobs.registry import build_blob_store
from exchange.settings import LocalBlobSettings, Settings
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.inbound import InboundFile
from tests.exchange.web.portal import Portal

MARKER = b"TWO-HUBS-MARKER-5512"
CONTENT = (
    (
        "印刷元コンピュータ名,印刷日時,印刷ファイル名,印刷先プリンタ名,印刷枚数\n"
        "PC-01,2026/08/03 10:15:00,notices.csv,PRN-1,3\n"
    ).encode()
    + b"PC-02,2026/08/03 10:20:00,"
    + MARKER
    + b".csv,PRN-1,4\n"
)


def _holding(root: Path, needle: bytes) -> list[Path]:
    """Files under ``root`` whose bytes contain ``needle``."""
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_an_upload_through_one_hub_is_taken_through_another(
    portal: Portal, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    # Hub A is the portal fixture (data directory tmp/data, blobs in tmp/blobs); hub B has its own data directory
    # and names the same blob folder in its settings, as a second host names the same bucket.
    settings_b = Settings(data_dir=tmp_path / "data-b", blobs=LocalBlobSettings(root=portal.blobs.root))
    blobs_b = await asyncio.to_thread(build_blob_store, settings_b)
    deps_b = PortalDeps(keyring=portal.world.keyring, data_dir=settings_b.data_dir, blobs=blobs_b)
    hub_b = await aiohttp_client(create_app(portal.maker, deps=deps_b))

    csrf = await portal.login("a-handler")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "print_log")
    form.add_field("file", CONTENT, filename="print.csv", content_type="application/octet-stream")
    contract = portal.world.contracts["main"].public_id
    sent = await portal.client.post(f"/contracts/{contract}/inbound", data=form, allow_redirects=False)
    assert sent.status == 303, await sent.text()
    async with portal.maker() as session:
        upload = (await session.execute(select(InboundFile))).scalar_one()
    assert upload.blob_key == f"uploads/{upload.public_id}"

    await portal.login("staff-same", client=hub_b)
    listing = await (await hub_b.get("/staff/inbound")).text()
    assert "print.csv" in listing
    taken = await hub_b.get(f"/inbound/{upload.public_id}/download")
    assert taken.status == 200 and await taken.read() == CONTENT

    for data_dir in (portal.data_dir, settings_b.data_dir):
        assert await asyncio.to_thread(_holding, data_dir, MARKER) == [], data_dir
    assert await asyncio.to_thread(_holding, portal.blobs.root, MARKER) == [], "sealed in the store, too"
    assert [key async for key in blobs_b.keys("uploads/")] == [upload.blob_key]
