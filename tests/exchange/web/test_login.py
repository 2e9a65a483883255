"""Login with TOTP, brute-force lockout per account and per address, invitations and first-time setup."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import time_machine
from sqlalchemy import func, select

from exchange.identity import invitations, lockout
from exchange.web import auth
from ledger.models.audit import AuditEvent
from ledger.models.identity import LoginAttempt, LoginThrottle
from tests.exchange.web.portal import CSRF, Portal, csrf_of
from tests.factories import PASSWORD
from tests.services import require_binary


async def _audit(portal: Portal, action: str) -> int:
    async with portal.maker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
        )


async def test_password_alone_does_not_open_a_contractor_session(portal: Portal) -> None:
    client = portal.client
    response = await portal.post_login("a-handler")
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
    response = await portal.post_login("staff-same")
    assert response.headers["Location"] == "/login/totp"
    response = await portal.client.post(
        "/login/totp",
        data={"csrf_token": await csrf_of(portal.client, "/login/totp"), "code": portal.world.code("staff-same")},
        allow_redirects=False,
    )
    second = response.cookies["handover_session"].value
    assert second != first
    cookie = response.cookies["handover_session"]
    assert cookie["samesite"] == "Strict" and cookie["httponly"]
    portal.client.session.cookie_jar.clear()
    stale = await portal.client.get("/", headers={"Cookie": f"handover_session={first}"})
    assert "ログインID" in await stale.text()


async def test_sixth_attempt_is_refused_even_with_the_right_password(portal: Portal) -> None:
    for _ in range(5):
        assert (await portal.post_login("staff-same", "wrong")).status == 401
    response = await portal.post_login("staff-same")
    assert response.status == 429
    assert "一時的にログインできません" in await response.text()
    assert await _audit(portal, "login.failed") == 5
    assert await _audit(portal, "login.locked") == 1
    # Another hub process sharing the database agrees.
    from aiohttp.test_utils import TestClient, TestServer

    from exchange.web.app import create_app
    from exchange.web.context import PortalDeps

    async with TestClient(TestServer(create_app(portal.maker, deps=PortalDeps(keyring=portal.world.keyring)))) as other:
        again = await portal.post_login("staff-same", client=other)
        assert again.status == 429
    # The lock ends five minutes after the fifth failure, retries or not.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5, seconds=5)):
        ok = await portal.post_login("staff-same")
        assert ok.status == 303 and ok.headers["Location"] == "/login/totp"


async def test_retrying_during_a_lock_does_not_extend_it(portal: Portal) -> None:
    """A contractor (or an attacker) retrying while locked must not push the unlock time further away."""
    start = datetime.now(UTC)
    for _ in range(5):
        assert (await portal.post_login("a-handler", "wrong")).status == 401
    for minutes in (1, 2, 3, 4):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            for _ in range(3):
                assert (await portal.post_login("a-handler")).status == 429
    with time_machine.travel(start + timedelta(minutes=5, seconds=30)):
        ok = await portal.post_login("a-handler")
        assert ok.status == 303 and ok.headers["Location"] == "/login/totp"
    async with portal.maker() as session:
        throttle = (
            await session.execute(select(LoginThrottle).where(LoginThrottle.bucket.like("account:%")))
        ).scalar_one()
        assert throttle.failures == 6  # the twelve refused retries were not counted


async def test_backoff_is_capped_before_it_is_computed() -> None:
    """Issue 13: ``base * 2**(failures - threshold)`` overflowed timedelta after ~44 failures."""
    for failures in (5, 6, 44, 45, 1000, 10**9):
        backoff = lockout.ACCOUNT_RULE.backoff(failures)
        assert backoff is not None and backoff <= lockout.ACCOUNT_RULE.cap
    assert lockout.ACCOUNT_RULE.backoff(10**9) == lockout.ACCOUNT_RULE.cap
    assert lockout.ACCOUNT_RULE.backoff(4) is None


async def test_concurrent_guesses_are_checked_at_most_up_to_the_limit(portal: Portal, monkeypatch: Any) -> None:
    """Twenty guesses in flight at once: only five may reach the password check (the limit is 5)."""
    checked = 0
    real = auth.verify_password_async

    async def counting(password_hash: str, password: str) -> bool:
        nonlocal checked
        checked += 1
        return await real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password_async", counting)
    token = await csrf_of(portal.client, "/login")
    responses = await asyncio.gather(
        *(
            portal.client.post("/login", data={"login": "a-handler", "password": f"guess-{n}", "csrf_token": token})
            for n in range(20)
        )
    )
    statuses = sorted(response.status for response in responses)
    assert checked <= lockout.ACCOUNT_RULE.threshold, statuses
    assert statuses.count(401) == checked and statuses.count(429) == 20 - checked


async def test_address_is_locked_after_many_failures_on_any_account(portal: Portal) -> None:
    for n in range(20):
        await portal.post_login(f"nobody-{n}", "x")
    response = await portal.post_login("staff-same")
    assert response.status == 429
    async with portal.maker() as session:
        assert await session.scalar(select(func.count()).select_from(LoginAttempt)) == 20


async def test_bad_api_tokens_do_not_lock_the_office_out_of_login(portal: Portal) -> None:
    """Scripts on a contractor's office network sending stale tokens must not shut its people out of the portal."""
    for n in range(30):
        response = await portal.client.get("/api/v1/packages", headers={"Authorization": f"Bearer hvr_stale{n}"})
        assert response.status in (401, 429)
    assert response.status == 429  # the API's own bucket does lock
    await portal.login("a-handler")
    assert "受け取るデータ" in await (await portal.client.get("/")).text()


async def test_login_and_invitation_forms_need_the_presession_token(portal: Portal) -> None:
    """Another site cannot post the login form (login CSRF) or the invitation form in a person's browser."""
    bare = await portal.client.post("/login", data={"login": "a-handler", "password": PASSWORD}, allow_redirects=False)
    assert bare.status == 403 and "handover_challenge" not in bare.cookies
    await csrf_of(portal.client, "/login")  # the browser has a pre-session cookie, but the forger cannot read it
    forged = await portal.client.post(
        "/login", data={"login": "a-handler", "password": PASSWORD, "csrf_token": "guess"}, allow_redirects=False
    )
    assert forged.status == 403
    invitation = await portal.client.post("/invitation", data={"code": "AAAA-BBBB"}, allow_redirects=False)
    assert invitation.status == 403
    assert await _audit(portal, "csrf.rejected") == 3
    assert await _audit(portal, "login.password_ok") == 0


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
    await asyncio.to_thread(pdf.write_bytes, await asyncio.to_thread(invitations.render_letter, letter))
    pdftotext = await asyncio.to_thread(require_binary, "pdftotext")
    done_text = await asyncio.to_thread(
        subprocess.run, [pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True
    )
    text = done_text.stdout
    assert letter.code in text and "c-handler" in text and "ログイン情報のお知らせ" in text
    client = portal.client
    # The old password no longer works once a letter is issued.
    assert (await portal.post_login("c-handler")).status == 401
    response = await client.post(
        "/invitation",
        data={"code": letter.code.lower().replace("-", ""), "csrf_token": await csrf_of(client, "/invitation")},
        allow_redirects=False,
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
    reused = await client.post(
        "/invitation", data={"code": letter.code, "csrf_token": await csrf_of(client, "/invitation")}
    )
    assert reused.status == 401
