"""Packages served from the blob store: a changed or missing blob is refused with a reason and an audit line,
never served nor counted; packages of the old store folder are adopted by ``handover packages adopt-store``."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result
from sqlalchemy import select

from exchange.cli import main
from exchange.identity import api_tokens
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.audit import AuditEvent
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package
from ledger.models.parties import Account
from tests.deploy.nginx import self_signed
from tests.exchange.web.portal import Portal
from tests.factories import PORTAL_CONTENT, add_package


def _blob(portal: Portal, package: Package) -> Path:
    """The package's blob in the portal's local blob store (``tmp_path/store``, see ``conftest``)."""
    return portal.data_dir.parent / "store" / package.blob_key


async def _refusals(portal: Portal, public_id: str) -> list[dict[str, object]]:
    async with portal.maker() as session:
        rows = await session.execute(
            select(AuditEvent.detail)
            .where(
                AuditEvent.action == "package.download",
                AuditEvent.outcome == "failed",
                AuditEvent.object_id == public_id,
            )
            .order_by(AuditEvent.id)
        )
        return list(rows.scalars())


async def _counted(portal: Portal, public_id: str) -> tuple[int, int]:
    """The package's download count and its register lines of downloads."""
    async with portal.maker() as session:
        package = (await session.execute(select(Package).where(Package.public_id == public_id))).scalar_one()
        lines = await session.execute(
            select(LedgerEntry.idx).where(LedgerEntry.kind == "package.downloaded", LedgerEntry.package_id == public_id)
        )
        return package.download_count, len(lines.all())


async def _token(portal: Portal, login: str) -> dict[str, str]:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == login))).scalar_one()
        return {"Authorization": f"Bearer {api_tokens.create(session, account, 'test', now=datetime.now(UTC))}"}


async def test_a_changed_blob_is_refused_on_the_page_and_the_api_with_a_reason_and_an_audit_line(
    portal: Portal,
) -> None:
    package = portal.world.packages["main"]
    client = portal.client
    await portal.login("a-handler")
    url = f"/packages/{package.public_id}/download"
    first = await client.get(url)
    assert first.status == 200 and await first.read() == PORTAL_CONTENT
    assert first.headers["ETag"] == f'"{package.sha256}"' and first.headers["Accept-Ranges"] == "bytes"

    # Replaced by a blob one byte longer: the size, asked of the store on every download, no longer matches the
    # record, so the verification this process remembers from the first download does not let it through.
    tampered = bytearray(PORTAL_CONTENT)
    tampered[100] ^= 0xFF
    await asyncio.to_thread(_blob(portal, package).write_bytes, bytes(tampered) + b"x")
    refused = await client.get(url)
    assert refused.status == 503
    assert "記録と一致しない" in await refused.text() and "改ざん" in await refused.text()
    api = await client.get(f"/api/v1/packages/{package.public_id}/content", headers=await _token(portal, "a-handler"))
    assert api.status == 503 and "改ざん" in (await api.json())["error"]
    refusals = await _refusals(portal, package.public_id)
    assert [r["code"] for r in refusals] == ["store.corrupt", "store.corrupt"]
    assert refusals[0]["key"] == package.blob_key
    assert await _counted(portal, package.public_id) == (1, 1), "a refused download is neither counted nor registered"


async def test_a_blob_rewritten_with_its_length_after_a_download_is_verified_again_and_refused(
    portal: Portal,
) -> None:
    package = portal.world.packages["main"]
    await portal.login("a-handler")
    url = f"/packages/{package.public_id}/download"
    first = await portal.client.get(url)
    assert first.status == 200 and await first.read() == PORTAL_CONTENT
    # Same length, same file (inode): only its mtime and ctime tell. The verification this process remembers is of
    # the file as it was, so the download reads it through the hash again and refuses it.
    tampered = bytearray(PORTAL_CONTENT)
    tampered[7] ^= 0x01
    await asyncio.to_thread(_blob(portal, package).write_bytes, bytes(tampered))
    refused = await portal.client.get(url, headers={"Range": "bytes=5-"})
    assert refused.status == 503 and "改ざん" in await refused.text()
    assert [r["code"] for r in await _refusals(portal, package.public_id)] == ["store.corrupt"]
    assert await _counted(portal, package.public_id) == (1, 1)


async def test_a_download_sends_the_file_it_checked_though_another_is_put_over_its_key(portal: Portal) -> None:
    content = bytes(range(256)) * (128 * 1024)  # 32 MiB: more than the socket buffers hold, so sending goes on
    async with portal.maker.begin() as session:
        package = await add_package(
            session, "main", delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=content
        )
    await portal.login("a-handler")
    url = f"/packages/{package.public_id}/download"
    response = await portal.client.get(url)
    assert response.status == 200
    received = await response.content.readexactly(64 * 1024)
    # Mid-transfer, another file of the same length is renamed over the key (as a put does).
    other = portal.data_dir.parent / "other.zip"
    await asyncio.to_thread(other.write_bytes, bytes(len(content)))
    await asyncio.to_thread(other.replace, _blob(portal, package))
    received += await response.read()
    assert received == content, "the rest came from the descriptor that was checked, not from the path again"
    # The next download opens what is under the key now, a file never verified: it is refused.
    refused = await portal.client.get(url)
    assert refused.status == 503 and "改ざん" in await refused.text()
    assert await _counted(portal, package.public_id) == (1, 1)


async def test_over_the_hubs_own_tls_listener_the_checked_file_is_sent_in_chunks(
    portal: Portal, tmp_path: Path
) -> None:
    """The kernel cannot sendfile into TLS: the bytes are read from the same descriptor and encrypted in Python."""
    content = os.urandom(3 * 1024 * 1024 + 4321)
    async with portal.maker.begin() as session:
        package = await add_package(
            session, "main", delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=content
        )
    cert, key = await asyncio.to_thread(self_signed, tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    await asyncio.to_thread(context.load_cert_chain, cert, key)
    deps = PortalDeps(keyring=portal.world.keyring, data_dir=portal.data_dir, blobs=portal.blobs)
    server = TestServer(create_app(portal.maker, deps=deps))
    await server.start_server(ssl=context)
    headers = await _token(portal, "a-handler")
    url = server.make_url(f"/api/v1/packages/{package.public_id}/content")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as client:
            async with client.get(url, headers=headers) as whole:
                assert whole.status == 200 and await whole.read() == content
            async with client.get(url, headers={**headers, "Range": "bytes=1048570-2097200"}) as part:
                assert part.status == 206 and await part.read() == content[1048570:2097201]
    finally:
        await server.close()
    assert await _counted(portal, package.public_id) == (2, 2)


async def test_a_blob_changed_before_any_download_is_refused_though_its_length_is_right(portal: Portal) -> None:
    package = portal.world.packages["main"]
    tampered = bytearray(PORTAL_CONTENT)
    tampered[-1] ^= 0x01
    await asyncio.to_thread(_blob(portal, package).write_bytes, bytes(tampered))
    await portal.login("a-handler")
    refused = await portal.client.get(f"/packages/{package.public_id}/download")
    assert refused.status == 503 and "改ざん" in await refused.text()
    assert [r["code"] for r in await _refusals(portal, package.public_id)] == ["store.corrupt"]
    assert await _counted(portal, package.public_id) == (0, 0)


async def test_a_missing_blob_is_refused_with_a_reason_and_an_audit_line(portal: Portal) -> None:
    package = portal.world.packages["main"]
    await asyncio.to_thread(_blob(portal, package).unlink)
    await portal.login("a-handler")
    refused = await portal.client.get(f"/packages/{package.public_id}/download", headers={"Range": "bytes=10-"})
    assert refused.status == 503 and "保管領域に見つかりません" in await refused.text()
    assert [r["code"] for r in await _refusals(portal, package.public_id)] == ["store.missing"]
    assert await _counted(portal, package.public_id) == (0, 0)


async def test_range_requests_are_served_from_the_blob_store(portal: Portal) -> None:
    package = portal.world.packages["main"]
    await portal.login("a-handler")
    url = f"/packages/{package.public_id}/download"
    middle = await portal.client.get(url, headers={"Range": "bytes=10-19"})
    assert middle.status == 206 and await middle.read() == PORTAL_CONTENT[10:20]
    assert middle.headers["Content-Range"] == f"bytes 10-19/{len(PORTAL_CONTENT)}"
    tail = await portal.client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status == 206 and await tail.read() == PORTAL_CONTENT[-5:]
    stale = await portal.client.get(url, headers={"Range": "bytes=10-", "If-Range": '"another"'})
    assert stale.status == 200 and await stale.read() == PORTAL_CONTENT
    beyond = await portal.client.get(url, headers={"Range": f"bytes={len(PORTAL_CONTENT)}-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(PORTAL_CONTENT)}"


async def _adopt(portal: Portal, db_url: str) -> Result:
    """``handover packages adopt-store`` on the portal's hub: data directory ``tmp_path/data``, blobs in the
    portal's store ``tmp_path/store`` (in-process, in a thread: the command runs its own event loop)."""
    root = portal.data_dir.parent
    config = root / "hub.toml"
    text = f'data_dir = "{portal.data_dir}"\n[database]\nurl = "{db_url}"\n[blobs]\nroot = "{root / "store"}"\n'
    await asyncio.to_thread(config.write_text, text, encoding="utf-8")
    handlers, level = logging.getLogger().handlers[:], logging.getLogger().level
    try:
        result = await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), "packages", "adopt-store"])
    finally:
        logging.getLogger().handlers[:], logging.getLogger().level = handlers, level
    assert result.exit_code == 0, result.output
    return result


def _old_store_file(data_dir: Path, intake: str, public_id: str, data: bytes) -> Path:
    """Where packing left a ZIP before packages lived in the blob store."""
    path = data_dir / "store" / intake / "claim-1" / f"{public_id}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def test_adopt_store_moves_old_packages_into_the_blob_store_and_they_download(
    portal: Portal, db_url: str
) -> None:
    contract = portal.world.contracts["main"]
    old, changed = b"sealed zip of an earlier version", b"a file whose bytes are not the recorded ones"
    async with portal.maker.begin() as session:
        kept = await add_package(session, contract, delivered_at=datetime.now(UTC), data=old)
        altered = await add_package(session, contract, delivered_at=datetime.now(UTC), data=changed)
    files = [
        await asyncio.to_thread(_old_store_file, portal.data_dir, "intake-1", kept.public_id, old),
        await asyncio.to_thread(_old_store_file, portal.data_dir, "intake-2", altered.public_id, changed + b"!"),
        await asyncio.to_thread(_old_store_file, portal.data_dir, "intake-3", "not-a-package", b"PK"),
    ]
    await portal.login("a-handler")
    before = await portal.client.get(f"/packages/{kept.public_id}/download")
    assert before.status == 503, "not yet adopted: refused, not served from a host path"

    result = await _adopt(portal, db_url)
    assert "保管領域へ移したパッケージ: 1件" in result.output
    assert f"記録と内容が一致しないため移していません（確認してください）: {files[1]}" in result.output
    assert f"対応するパッケージがない（または消去済みの）ため移していません: {files[2]}" in result.output
    assert not await asyncio.to_thread(files[0].exists) and not await asyncio.to_thread(files[0].parent.exists)
    assert await asyncio.to_thread(files[1].exists) and await asyncio.to_thread(files[2].exists)
    downloaded = await portal.client.get(f"/packages/{kept.public_id}/download")
    assert downloaded.status == 200 and hashlib.sha256(await downloaded.read()).hexdigest() == kept.sha256

    again = await _adopt(portal, db_url)  # harmless: nothing more to move
    assert "保管領域へ移したパッケージ: 0件" in again.output
