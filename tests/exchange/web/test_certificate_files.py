"""Hub deletion certificates' files in the blob store: written by one hub, served by another that shares the
database and the store; refused (in Japanese) when the store lost or changed them; ``handover certificates
export|download|approve`` on the same store. Both databases."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from pathlib import Path

from aiohttp.test_utils import TestClient
from click.testing import CliRunner, Result
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from exchange.blobs.local import LocalBlobStore
from exchange.blobs.registry import build_blob_store
from exchange.cli import main
from exchange.duties.scheduler import DutyRunner, build_context
from exchange.retention import hub_certificate_files as certificate_files
from exchange.settings import DatabaseSettings, LocalBlobSettings, Settings
from exchange.web.app import create_app
from exchange.web.context import DEPS, PortalDeps
from ledger.models.audit import AuditEvent
from ledger.models.packages import Package
from ledger.models.retention import HubDeletionCertificate
from ledger.tlog.checkpoint import SigningKey, generate_key_file, load_key_file
from tests.exchange.web.portal import Portal
from tests.factories import issue_hub_certificate

ORIGIN = "test.handover/ledger"


async def _issue(portal: Portal, key: SigningKey | None = None) -> HubDeletionCertificate:
    async with portal.maker.begin() as session:
        package = await session.get_one(Package, portal.world.packages["main"].id)
        return await issue_hub_certificate(session, package, key or SigningKey.generate(ORIGIN))


async def _row(portal: Portal, public_id: str) -> HubDeletionCertificate:
    async with portal.maker() as session:
        return await certificate_files.find_issued(session, public_id)


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def _failed_downloads(portal: Portal) -> list[str]:
    async with portal.maker() as session:
        rows = await session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "compliance.certificate.download", AuditEvent.outcome == "failed"
            )
        )
        return [str(detail) for detail in rows]


async def test_a_certificate_written_by_one_hub_is_downloaded_through_another(
    portal: Portal, aiohttp_client: AiohttpClient, tmp_path: Path, db_url: str
) -> None:
    """Hub A (its own data directory) runs the retention sweep, which puts the files into the shared store; hub
    B (another data directory, same database and blob root) serves them to the compliance officer."""
    shared = tmp_path / "shared-blobs"
    hub_a, hub_b = (
        Settings(data_dir=tmp_path / name, database=DatabaseSettings(url=db_url), blobs=LocalBlobSettings(root=shared))
        for name in ("hub-a", "hub-b")
    )
    for hub in (hub_a, hub_b):
        await asyncio.to_thread(hub.data_dir.mkdir)
    await asyncio.to_thread(generate_key_file, hub_a.signing_key.file, ORIGIN)
    signing_key = await asyncio.to_thread(load_key_file, hub_a.signing_key.file)
    certificate = await _issue(portal, signing_key)

    blobs_a = await asyncio.to_thread(build_blob_store, hub_a)
    context = await asyncio.to_thread(build_context, hub_a, portal.maker, {}, blobs_a)  # resolves the data dir
    run = await DutyRunner(context).run_now("retention.sweep")
    assert run is not None and run.ok, run and run.result
    stored = await _row(portal, certificate.public_id)
    assert stored.pdf_key == f"certificates/{certificate.public_id}.pdf" and stored.pdf_sha256 is not None
    in_store = await asyncio.to_thread(_files_under, shared)
    assert {f"certificates/{certificate.public_id}.{suffix}" for suffix in ("json", "pdf", "sig")} <= set(in_store)

    blobs_b = await asyncio.to_thread(build_blob_store, hub_b)
    deps = PortalDeps(keyring=portal.world.keyring, data_dir=hub_b.data_dir, blobs=blobs_b)
    other: TestClient = await aiohttp_client(create_app(portal.maker, deps=deps))
    await portal.login("compliance", other)
    downloaded = {}
    for suffix in certificate_files.SUFFIXES:
        response = await other.get(f"/compliance/certificates/{certificate.public_id}.{suffix}")
        assert response.status == 200, await response.text()
        downloaded[suffix] = await response.read()
    assert stored.document is not None and downloaded["json"] == stored.document.encode()
    assert hashlib.sha256(downloaded["pdf"]).hexdigest() == stored.pdf_sha256 and downloaded["pdf"].startswith(b"%PDF")
    assert signing_key.verifier.verify(downloaded["json"], base64.b64decode(downloaded["sig"]))
    # Nothing of the certificate lies in either hub's data directory: the store is the only place.
    assert await asyncio.to_thread(_files_under, hub_a.data_dir) == ["ledger-signing.key"]
    assert await asyncio.to_thread(_files_under, hub_b.data_dir) == []


async def test_a_changed_or_lost_file_is_refused_with_the_reason(portal: Portal) -> None:
    certificate = await _issue(portal)
    blobs = portal.client.app[DEPS].blobs
    assert isinstance(blobs, LocalBlobStore)
    assert await certificate_files.export_missing(portal.maker, blobs) == [certificate.number]
    await portal.login("compliance")
    url = f"/compliance/certificates/{certificate.public_id}"
    assert (await portal.client.get(f"{url}.pdf")).status == 200

    await asyncio.to_thread(blobs.path_of(f"certificates/{certificate.public_id}.pdf").write_bytes, b"%PDF-1.4 forged")
    changed = await portal.client.get(f"{url}.pdf")
    assert changed.status == 500 and "記録されたハッシュ値と一致しません" in await changed.text()
    await blobs.delete(f"certificates/{certificate.public_id}.json")
    lost = await portal.client.get(f"{url}.json")
    assert lost.status == 500 and "保管領域に見つかりません" in await lost.text()
    assert (await portal.client.get(f"{url}.sig")).status == 200, "the untouched file is still served"
    failed = await _failed_downloads(portal)
    assert len(failed) == 2 and "一致しません" in failed[0] and "見つかりません" in failed[1]

    # The sweep does not paper over it: a recorded key is the operator's matter, not rewritten silently.
    assert await certificate_files.export_missing(portal.maker, blobs) == []
    assert (await portal.client.get(f"{url}.json")).status == 500


def _config(portal: Portal, db_url: str) -> Path:
    """The CLI's configuration: the portal's parent folder as data directory, so ``DATA_DIR/blobs`` is the
    portal's blob store."""
    root = portal.data_dir.parent
    config = root / "hub.toml"
    config.write_text(
        f'data_dir = "{root}"\n[database]\nurl = "{db_url}"\n[blobs]\nkind = "local"\nroot = "{portal.blobs.root}"\n',
        encoding="utf-8",
    )
    return config


async def _cli(config: Path, *args: str) -> Result:
    """``handover …`` in-process (in a thread: it runs its own event loop), keeping pytest's log handlers."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), *args])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_cli_exports_downloads_and_approves_through_the_store(
    portal: Portal, tmp_path: Path, db_url: str
) -> None:
    config = await asyncio.to_thread(_config, portal, db_url)
    certificate = await _issue(portal)
    number = certificate.number
    assert number is not None
    out = tmp_path / "out" / f"{number}.pdf"

    early = await _cli(config, "certificates", "download", number, "--out", str(out))
    assert early.exit_code != 0 and "まだ保管領域に書き出されていません" in early.output
    exported = await _cli(config, "certificates", "export")
    assert exported.exit_code == 0 and f"1件 {number}" in exported.output, exported.output
    assert "0件" in (await _cli(config, "certificates", "export")).output

    fetched = await _cli(config, "certificates", "download", number, "--out", str(out))
    assert fetched.exit_code == 0, fetched.output
    before = await _row(portal, certificate.public_id)
    assert hashlib.sha256(await asyncio.to_thread(out.read_bytes)).hexdigest() == before.pdf_sha256

    approved = await _cli(config, "certificates", "approve", number, "--by", "区役 花子", "--comment", "確認済")
    assert approved.exit_code == 0, approved.output
    after = await _row(portal, certificate.public_id)
    assert after.validated_by == "区役 花子" and after.pdf_sha256 != before.pdf_sha256
    assert (after.json_sha256, after.sig_sha256) == (before.json_sha256, before.sig_sha256)
    signature = tmp_path / "out" / "sig"
    by_id = await _cli(
        config, "certificates", "download", certificate.public_id, "--file", "sig", "--out", str(signature)
    )
    assert by_id.exit_code == 0 and await asyncio.to_thread(signature.read_text) == f"{after.signature}\n"

    blobs = portal.client.app[DEPS].blobs
    assert blobs is not None
    await blobs.delete(f"certificates/{certificate.public_id}.pdf")
    lost = await _cli(config, "certificates", "download", number, "--out", str(tmp_path / "again.pdf"))
    assert lost.exit_code != 0 and "保管領域に見つかりません" in lost.output
    assert not await asyncio.to_thread((tmp_path / "again.pdf").exists)
    unknown = await _cli(config, "certificates", "download", "HDC-1999-00001", "--out", str(tmp_path / "x.pdf"))
    assert unknown.exit_code != 0 and "見つかりません" in unknown.output
    async with portal.maker() as session:
        assert await session.scalar(select(func.count()).select_from(HubDeletionCertificate)) == 1
