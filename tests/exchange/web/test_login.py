"""Login with TOTP, brute-force lockout per account and per address, invitations and first-time setup."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import time_machine
from sqlalchemy import func, select

from exchange.identity import invitations
from ledger.models.audit import AuditEvent
from ledger.models.identity import LoginAttempt
from tests.exchange.web.portal import CSRF, Portal
from tests.factories import PASSWORD
from tests.services import require_binary


async def _audit(portal: Portal, action: str) -> int:
    async with portal.maker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
        )


async def test_password_alone_does_not_open_a_contractor_session(portal: Portal) -> None:
    client = portal.client
    response = await client.post("/login", data={"login": "a-handler", "password": PASSWORD}, allow_redirects=False)
    assert response.headers["Location"] == "/login/totp"
    assert "handover_session" not in response.cookies
    assert "ログイン" in await (await client.get("/")).text()
    page = await (await client.get("/login/totp")).text()
    csrf = CSRF.search(page)
    assert csrf
    wrong = await client.post("/login/totp", data={"csrf_token": csrf.group(1), "code": "000000"})
    assert wrong.status == 401
    assert await _audit(portal, "login.totp_failed") == 1


async def test_session_rotates_at_login(portal: Portal) -> None:
    await portal.login("staff-same")
    first = portal.client.session.cookie_jar.filter_cookies(portal.client.make_url("/"))["handover_session"].value
    response = await portal.client.post(
        "/login", data={"login": "staff-same", "password": PASSWORD}, allow_redirects=False
    )
    second = response.cookies["handover_session"].value
    assert second != first
    cookie = response.cookies["handover_session"]
    assert cookie["samesite"] == "Strict" and cookie["httponly"]
    portal.client.session.cookie_jar.clear()
    stale = await portal.client.get("/", headers={"Cookie": f"handover_session={first}"})
    assert "ログインID" in await stale.text()


async def test_sixth_attempt_is_refused_even_with_the_right_password(portal: Portal) -> None:
    client = portal.client
    for _ in range(5):
        response = await client.post("/login", data={"login": "staff-same", "password": "wrong"})
        assert response.status == 401
    response = await client.post("/login", data={"login": "staff-same", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 429
    assert "一時的にログインできません" in await response.text()
    assert await _audit(portal, "login.failed") == 5
    assert await _audit(portal, "login.locked") == 1
    # Another hub process sharing the database agrees.
    from aiohttp.test_utils import TestClient, TestServer

    from exchange.web.app import create_app
    from exchange.web.context import PortalDeps

    async with TestClient(TestServer(create_app(portal.maker, deps=PortalDeps(keyring=portal.world.keyring)))) as other:
        again = await other.post("/login", data={"login": "staff-same", "password": PASSWORD}, allow_redirects=False)
        assert again.status == 429
    # Refused attempts count too: each doubles the lock (8 failures after the next one: 40 minutes).
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=9)):
        assert (
            await client.post("/login", data={"login": "staff-same", "password": PASSWORD}, allow_redirects=False)
        ).status == 429
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=50)):
        ok = await client.post("/login", data={"login": "staff-same", "password": PASSWORD}, allow_redirects=False)
        assert ok.status == 303 and ok.headers["Location"] == "/"


async def test_address_is_locked_after_many_failures_on_any_account(portal: Portal) -> None:
    for n in range(20):
        await portal.client.post("/login", data={"login": f"nobody-{n}", "password": "x"})
    response = await portal.client.post("/login", data={"login": "staff-same", "password": PASSWORD})
    assert response.status == 429
    async with portal.maker() as session:
        assert await session.scalar(select(func.count()).select_from(LoginAttempt)) == 21


async def test_invitation_letter_code_sets_password_and_totp_once(portal: Portal, tmp_path: Path) -> None:
    async with portal.maker.begin() as session:
        letter = await invitations.invite(
            session,
            "c-handler",
            issuer="見本区 生活福祉課",
            portal_url="https://portal.example/",
            now=datetime.now(UTC),
        )
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(invitations.render_letter(letter))
    text = subprocess.run(
        [require_binary("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert letter.code in text and "c-handler" in text and "ログイン情報のお知らせ" in text
    client = portal.client
    # The old password no longer works once a letter is issued.
    assert (await client.post("/login", data={"login": "c-handler", "password": PASSWORD})).status == 401
    response = await client.post(
        "/invitation", data={"code": letter.code.lower().replace("-", "")}, allow_redirects=False
    )
    assert response.headers["Location"] == "/login/setup"
    page = await (await client.get("/login/setup")).text()
    secret = re.search(r'id="totp-secret">([^<]+)<', page)
    csrf = CSRF.search(page)
    assert secret and csrf
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    short = await client.post(
        "/login/setup",
        data={"csrf_token": csrf.group(1), "password": "short", "password_confirm": "short", "code": totp.now()},
    )
    assert short.status == 400
    new_password = "a much longer pass phrase"
    done = await client.post(
        "/login/setup",
        data={
            "csrf_token": csrf.group(1),
            "password": new_password,
            "password_confirm": new_password,
            "code": totp.now(),
        },
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == "/"
    assert "受け取るデータ" in await (await client.get("/")).text()
    client.session.cookie_jar.clear()
    reused = await client.post("/invitation", data={"code": letter.code})
    assert reused.status == 401
