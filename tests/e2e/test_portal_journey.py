"""A contractor handler's whole journey in Chromium: invitation letter code, password and TOTP set-up, login,
then two packages as the separate-occasion rule (C-02) treats them:

* one downloaded from the portal: receipt, then the portal's pick-up page refuses its password (the data took the
  portal, so the password must take another channel); the password then comes on the printed notice
  (``handover password notice`` does exactly this release; ``tests/e2e/test_demo_flow.py`` runs that command) and
  7-Zip opens the downloaded file with it;
* one the ward's connector delivered and verified (its ``location`` recorded): receipt without a download, then
  the pick-up page shows the password, which opens the delivered copy in 7-Zip."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiohttp import web
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.blobs.local import LocalBlobStore
from exchange.delivery.package_blobs import package_key
from exchange.identity import invitations
from exchange.keys import sealing
from exchange.packing import packer as packing
from exchange.passwords.generate import new_package_password
from exchange.passwords.release import release
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.db import create_engine, session_factory
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract, DesignationRole
from ledger.models.packages import Package
from ledger.models.parties import PartyKind, Person, PersonRole
from policies.channels import PasswordChannel
from tests.factories import add_contract, add_package, add_party, add_person, add_program, designate
from tests.services import require_binary

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


PORTAL_ZIP = "対象者一覧_pkg.zip"
CONNECTOR_ZIP = "口座振替一覧_pkg.zip"
CONNECTORS = {"outbox": "local"}


@dataclass
class Hub:
    base_url: str
    code: str
    stored: dict[str, Path]  # ZIP name → the sealed package in the hub's store (the copy a connector delivers)
    password_by_notice: Callable[[str], str]  # ZIP name → the password released on the printed notice


async def _add_packed(
    session: AsyncSession, contract: Contract, tmp_path: Path, ring: sealing.Keyring, zip_name: str, **columns: Any
) -> Path:
    """A package packed for real (7-Zip opens it), its password sealed as the pipeline seals it."""
    source = tmp_path / zip_name.replace("_pkg.zip", ".csv")
    await asyncio.to_thread(
        source.write_text, "郵便番号,住所,氏名\n160-0000,見本区一丁目,見本 太郎\n", encoding="utf-8"
    )
    package_id = new_public_id()
    password = new_package_password()
    manifest = packing.Manifest(
        package_id=package_id,
        contract_id=contract.public_id,
        contract_name=contract.name,
        recipient=contract.party.name,
        created_at=datetime.now(UTC),
    )
    target = tmp_path / "store" / package_key(package_id)  # its blob in the portal's local blob store
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    packed = await asyncio.to_thread(
        packing.pack, [packing.PackSource(source.name, source, 1)], manifest, password, target
    )
    sealed = sealing.seal(ring.current, password.encode(), package_id.encode())
    await add_package(
        session,
        contract,
        delivered_at=datetime.now(UTC),
        public_id=package_id,
        zip_name=zip_name,
        size=packed.size,
        sha256=packed.sha256,
        content={},
        sealed_password=sealed.to_bytes(),
        key_id=sealed.key_id,
        **columns,
    )
    return packed.path


async def _seed(url: str, tmp_path: Path, ring: sealing.Keyring) -> tuple[str, dict[str, Path]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            await add_party(session, "ward", PartyKind.WARD, name="見本区")
            contractor = await add_party(
                session, "a", PartyKind.CONTRACTOR, name="株式会社見本情報サービス", ip_allowlist=["127.0.0.1/32"]
            )
            program = await add_program(session, "s1", "生活保護 追加給付", "生活福祉課")
            contract = await add_contract(
                session, "s1-main", contractor, program, name="生活保護追加給付 通知作成委託", channels=["local"]
            )
            person = await add_person(session, "a-handler", contractor, PersonRole.HANDLER, name="見本 二郎")
            await designate(session, contract, person, DesignationRole.HANDLER)
            stored = {
                # Nobody has fetched it yet: the handler downloads it from the portal.
                PORTAL_ZIP: await _add_packed(session, contract, tmp_path, ring, PORTAL_ZIP),
                # The outbox connector delivered it and read it back (the pipeline records ``location`` then).
                CONNECTOR_ZIP: await _add_packed(
                    session, contract, tmp_path, ring, CONNECTOR_ZIP, location="outbox/s1-main/" + CONNECTOR_ZIP
                ),
            }
            letter = await invitations.invite(
                session, "a-handler", issuer="見本区", portal_url="http://127.0.0.1/", now=datetime.now(UTC)
            )
    finally:
        await engine.dispose()
    return letter.code, stored


async def _release_on_notice(url: str, ring: sealing.Keyring, zip_name: str) -> str:
    """What ``handover password notice`` does before it prints: the rule's release on the printed-notice channel."""
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            package = await session.scalar(select(Package).where(Package.zip_name == zip_name))
            person = await session.scalar(select(Person).where(Person.code == "a-handler"))
            assert package is not None and person is not None
            released = await release(
                session, package, person, PasswordChannel.NOTICE, keyring=ring, connector_kinds=CONNECTORS
            )
            return released.password
    finally:
        await engine.dispose()


@pytest.fixture
def hub(db_url: str, tmp_path: Path) -> Iterator[Hub]:
    """The portal on its own event loop in a background thread (Playwright's API is synchronous)."""
    master = tmp_path / "master.key"
    sealing.create_master_key(master)
    ring = sealing.Keyring.load(master)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, int, str, dict[str, Path]]:
        code, stored = await _seed(db_url, tmp_path, ring)
        engine = create_engine(db_url)
        blobs = await asyncio.to_thread(LocalBlobStore, tmp_path / "store")
        deps = PortalDeps(keyring=ring, connector_kinds=CONNECTORS, blobs=blobs)
        app = create_app(session_factory(engine), deps=deps)
        app.on_cleanup.append(lambda _app: engine.dispose())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return runner, port, code, stored

    def password_by_notice(zip_name: str) -> str:
        return asyncio.run_coroutine_threadsafe(_release_on_notice(db_url, ring, zip_name), loop).result(60)

    runner, port, code, stored = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield Hub(f"http://127.0.0.1:{port}", code, stored, password_by_notice)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-journey-{name}.png"), full_page=True)


def test_contractor_handler_journey(hub: Hub, tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    sevenzip = require_binary("7zz")
    new_password = "見本の長いパスワード-2026"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="ja-JP", accept_downloads=True)
        page = context.new_page()
        page.goto(f"{hub.base_url}/invitation")
        page.fill("#code", hub.code)
        page.click("button[type=submit]")
        page.wait_for_url("**/login/setup")
        secret = (page.text_content("#totp-secret") or "").replace(" ", "")
        totp = pyotp.TOTP(secret)
        _shot(page, "1-setup")
        page.fill("#password", new_password)
        page.fill("#password_confirm", new_password)
        setup_time = datetime.now(UTC)
        page.fill("#code", totp.at(setup_time))
        page.click("button[type=submit]")
        page.wait_for_selector("text=受け取るデータ")
        page.click("text=ログアウト")
        page.wait_for_selector("#login")

        page.fill("#login", "a-handler")
        page.fill("#password", new_password)
        page.click("button[type=submit]")
        page.wait_for_url("**/login/totp")
        # A code is good once: the next time step's code (within the accepted drift) for this second login.
        page.fill("#code", totp.at(setup_time, counter_offset=1))
        page.click("button[type=submit]")
        page.wait_for_selector(f"text={PORTAL_ZIP}")
        _shot(page, "2-packages")

        # The package the handler downloads from the portal.
        page.click(f"text={PORTAL_ZIP}")
        assert page.locator("#package-password").count() == 0
        with page.expect_download() as info:
            page.click("#download")
        saved = tmp_path / "downloaded.zip"
        info.value.save_as(saved)
        page.click("#acknowledge")
        page.wait_for_selector("#ack-state >> text=済")
        _shot(page, "3-acknowledged")
        page.click("#password-link")
        page.click("#reveal")
        refusal = page.text_content("#refusal") or ""
        assert page.locator("#package-password").count() == 0
        _shot(page, "4-password-refused")

        # The package the outbox connector delivered: receipt, then the pick-up page gives its password.
        page.goto(f"{hub.base_url}/")
        page.click(f"text={CONNECTOR_ZIP}")
        page.click("#acknowledge")
        page.wait_for_selector("#ack-state >> text=済")
        page.click("#password-link")
        page.click("#reveal")
        connector_password = (page.text_content("#package-password") or "").strip()
        _shot(page, "5-password")
        browser.close()
    # Japanese, naming the channel in words a person reads and the ways that remain.
    assert "同じ経路" in refusal and "ポータル" in refusal and "通知書" in refusal, refusal
    assert "portal" not in refusal
    _opens_in_7zip(sevenzip, saved, hub.password_by_notice(PORTAL_ZIP))
    _opens_in_7zip(sevenzip, hub.stored[CONNECTOR_ZIP], connector_password)


def _opens_in_7zip(sevenzip: str, archive: Path, password: str) -> None:
    assert len(password) >= 20
    tested = subprocess.run([sevenzip, "t", f"-p{password}", str(archive)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Everything is Ok" in tested.stdout
