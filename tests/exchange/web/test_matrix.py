"""Authorisation matrix: every role against every route, on its own and on other parties' objects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from exchange.identity import api_tokens
from ledger.models.audit import AuditEvent
from ledger.models.identity import ApiToken
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal

ROLES = [
    "admin",
    "staff-same",
    "staff-other",
    "compliance",
    "a-handler",
    "a-manager",
    "a-former",
    "b-handler",
    "c-handler",
    "e-handler",
]
MAIN_RECIPIENTS = {"a-handler", "a-manager"}
WARD_READERS_MAIN = {"admin", "staff-same", "compliance"}
WARD_CHANGERS = {"admin", "staff-same"}


async def _count(portal: Portal, action: str) -> int:
    async with portal.maker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
        )


def cases(p: Portal, token: str | None = None) -> list[tuple[str, str, str, set[str]]]:
    """(method, path, label, roles allowed); every other role must be refused. ``token``: an API token of
    n-handler's to revoke."""
    pk = {code: pkg.public_id for code, pkg in p.world.packages.items()}
    ct = {code: c.public_id for code, c in p.world.contracts.items()}
    guess = str(uuid.uuid4())
    acc = p.world.accounts
    tok = token or guess
    return [
        ("GET", f"/packages/{pk['main']}", "view own/other package", MAIN_RECIPIENTS | WARD_READERS_MAIN),
        ("GET", f"/packages/{pk['main']}/download", "download", MAIN_RECIPIENTS),
        ("POST", f"/packages/{pk['main']}/acknowledge", "acknowledge", MAIN_RECIPIENTS),
        ("GET", f"/packages/{pk['main']}/password", "password page", MAIN_RECIPIENTS),
        ("GET", f"/packages/{pk['sub']}", "sub-contract package", {"b-handler"} | WARD_READERS_MAIN),
        ("GET", f"/packages/{pk['sub']}/download", "sub-contract download", {"b-handler"}),
        ("GET", f"/packages/{pk['other']}/download", "party C's package", {"c-handler"}),
        ("GET", f"/packages/{pk['expired']}/download", "expired contract's package", set()),
        ("GET", f"/packages/{pk['expired']}", "expired contract's package page", WARD_READERS_MAIN),
        ("GET", f"/packages/{guess}", "guessed package id", set()),
        ("GET", f"/packages/{guess}/download", "guessed package download", set()),
        ("GET", f"/contracts/{ct['main']}/inbound", "upload page", MAIN_RECIPIENTS),
        ("GET", "/staff", "staff home", {"admin", "staff-same", "staff-other"}),
        ("GET", f"/staff/contracts/{ct['main']}", "staff contract page", WARD_CHANGERS),
        ("POST", f"/staff/contracts/{ct['main']}/designations", "designate", WARD_CHANGERS),
        # Revoked, then approved again by each changer: the sub-contractor's rows below stay reachable.
        ("POST", f"/staff/contracts/{ct['sub']}/approval/revoke", "revoke sub-contract approval", WARD_CHANGERS),
        ("POST", f"/staff/contracts/{ct['sub']}/approval", "approve sub-contract", WARD_CHANGERS),
        ("POST", f"/staff/packages/{pk['expired']}/revoke", "revoke package", WARD_CHANGERS),
        ("POST", f"/staff/packages/{guess}/resend", "re-send guessed package", set()),
        ("GET", f"/contracts/{ct['main']}/certificate", "certificate page", MAIN_RECIPIENTS),
        ("GET", f"/contracts/{ct['sub']}/certificate", "sub-contract certificate page", {"b-handler"}),
        ("GET", f"/contracts/{ct['expired']}/certificate", "ended contract's certificate page", {"e-handler"}),
        ("GET", f"/contracts/{ct['main']}/printing", "print-log findings and notice deliveries", MAIN_RECIPIENTS),
        ("GET", f"/staff/contracts/{ct['main']}/printing", "staff print-log and notice page", WARD_CHANGERS),
        # Accounts (C-10): n-handler (designated on a 生活福祉課 contract, never signed in here) is the one acted on.
        ("GET", "/accounts", "accounts list", {"admin", "staff-same", "staff-other", "compliance"}),
        ("GET", f"/accounts/{acc['n-handler']}", "account page", {"admin", "staff-same", "compliance"}),
        ("GET", f"/accounts/{acc['admin']}", "admin's account page", {"admin", "compliance"}),
        ("GET", f"/accounts/{guess}", "guessed account page", set()),
        ("POST", f"/accounts/{acc['n-handler']}/disable", "disable account", WARD_CHANGERS),
        ("POST", f"/accounts/{acc['n-handler']}/enable", "enable account", WARD_CHANGERS),
        ("POST", f"/accounts/{acc['n-handler']}/unlock", "unlock account", WARD_CHANGERS),
        ("POST", f"/accounts/{acc['n-handler']}/end-sessions", "end account's sessions", WARD_CHANGERS),
        ("POST", f"/accounts/{acc['staff-other']}/end-sessions", "end staff's sessions", {"admin"}),
        ("POST", f"/accounts/{acc['admin']}/disable", "disable the admin", set()),
        ("POST", f"/accounts/{acc['n-handler']}/tokens/{tok}/revoke", "revoke API token", WARD_CHANGERS),
        ("POST", f"/accounts/{acc['n-handler']}/tokens/{guess}/revoke", "revoke guessed API token", set()),
        ("GET", "/compliance", "compliance packages", {"admin", "compliance"}),
        ("GET", "/compliance/releases", "compliance releases", {"admin", "compliance"}),
        ("GET", "/compliance/audit", "access log", {"admin", "compliance"}),
        ("GET", "/compliance/audit.csv", "access log CSV", {"admin", "compliance"}),
        ("GET", "/compliance/findings", "access-log findings", {"admin", "compliance"}),
        ("GET", "/staff/certificates", "contractors' certificates to review", {"admin", "staff-same", "staff-other"}),
    ]


async def _n_handler_token(portal: Portal) -> str:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == "n-handler"))).scalar_one()
        api_tokens.create(session, account, "連携", now=datetime.now(UTC))
        await session.flush()
        return (await session.execute(select(ApiToken.public_id).where(ApiToken.account_id == account.id))).scalar_one()


def form_for(p: Portal, path: str, csrf: str) -> dict[str, str]:
    if path.endswith("/designations"):
        return {
            "csrf_token": csrf,
            "person": p.world.people["a-handler"].public_id,
            "role": "handler",
            "op": "designate",
        }
    if path.endswith("/approval"):
        return {
            "csrf_token": csrf,
            "approved_by": "課長",
            "approval_ref": "見福第2号",
            "approved_at": "2026-02-20T10:00",
        }
    if path.endswith("/disable"):
        return {"csrf_token": csrf, "reason": "退職のため"}
    if path.endswith("/revoke"):
        return {"csrf_token": csrf, "reason": "誤送付のため"}
    return {"csrf_token": csrf}


async def test_every_role_on_every_route(portal: Portal) -> None:
    client = portal.client
    table = cases(portal, await _n_handler_token(portal))
    outcomes: dict[tuple[str, str], str] = {}
    expected: dict[tuple[str, str], str] = {}
    for role in ROLES:
        csrf = await portal.login(role, client)
        for method, path, label, allowed in table:
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            else:
                response = await client.post(path, data=form_for(portal, path, csrf), allow_redirects=False)
            body = await response.read()
            if response.status in (200, 206) or (response.status == 303 and response.headers["Location"] != "/"):
                outcome = "allow"
            elif response.status in (403, 404):
                outcome = "deny"
                assert "生活保護" not in body.decode(errors="replace") or label.startswith("compliance")
            else:
                outcome = f"unexpected {response.status}"
            outcomes[(role, label)] = outcome
            expected[(role, label)] = "allow" if role in allowed else "deny"
    wrong = {key: (outcomes[key], want) for key, want in expected.items() if outcomes[key] != want}
    assert wrong == {}
    async with portal.maker() as session:
        denied = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "denied")
        )
    assert denied == sum(1 for want in expected.values() if want == "deny")


async def test_anonymous_is_sent_to_login_everywhere(portal: Portal) -> None:
    for method, path, _label, _allowed in cases(portal):
        response = await portal.client.request(method, path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/", path


async def test_network_allowlist_refuses_login_from_elsewhere(portal: Portal) -> None:
    """A right password from outside the allowlist is answered exactly as a wrong one (C-08, C-10)."""
    right = await portal.post_login("n-handler")
    right_page = await right.text()
    wrong = await portal.post_login("n-handler", "not the password")
    assert right.status == wrong.status == 401
    assert right_page == await wrong.text()
    assert "登録された接続元以外" not in right_page and "handover_challenge" not in right.cookies
    assert await _count(portal, "login.network_denied") == 1


async def test_forged_csrf_is_refused_and_changes_nothing(portal: Portal) -> None:
    await portal.login("a-handler")
    pkg = portal.world.packages["main"].public_id
    response = await portal.client.post(f"/packages/{pkg}/acknowledge", data={"csrf_token": "guess"})
    assert response.status == 403
    page = await (await portal.client.get(f"/packages/{pkg}")).text()
    assert 'id="ack-state">未' in page
