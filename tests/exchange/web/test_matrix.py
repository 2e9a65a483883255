"""Authorisation matrix: every role against every route, on its own and on other parties' objects."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from ledger.models.audit import AuditEvent
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


def cases(p: Portal) -> list[tuple[str, str, str, set[str]]]:
    """(method, path, label, roles allowed); every other role must be refused."""
    pk = {code: pkg.public_id for code, pkg in p.world.packages.items()}
    ct = {code: c.public_id for code, c in p.world.contracts.items()}
    guess = str(uuid.uuid4())
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
        ("POST", f"/staff/contracts/{ct['sub']}/approval", "approve sub-contract", WARD_CHANGERS),
        ("POST", f"/staff/packages/{pk['expired']}/revoke", "revoke package", WARD_CHANGERS),
        ("POST", f"/staff/packages/{guess}/resend", "re-send guessed package", set()),
        ("GET", f"/contracts/{ct['main']}/certificate", "certificate page", MAIN_RECIPIENTS),
        ("GET", f"/contracts/{ct['sub']}/certificate", "sub-contract certificate page", {"b-handler"}),
        ("GET", f"/contracts/{ct['expired']}/certificate", "ended contract's certificate page", {"e-handler"}),
        ("GET", "/compliance", "compliance packages", {"admin", "compliance"}),
        ("GET", "/compliance/releases", "compliance releases", {"admin", "compliance"}),
        ("GET", "/compliance/audit", "access log", {"admin", "compliance"}),
    ]


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
    if path.endswith("/revoke"):
        return {"csrf_token": csrf, "reason": "誤送付のため"}
    return {"csrf_token": csrf}


async def test_every_role_on_every_route(portal: Portal) -> None:
    client = portal.client
    table = cases(portal)
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
    response = await portal.client.post(
        "/login", data={"login": "n-handler", "password": "correct horse battery staple"}
    )
    assert response.status == 403
    assert "登録された接続元以外" in await response.text()


async def test_forged_csrf_is_refused_and_changes_nothing(portal: Portal) -> None:
    await portal.login("a-handler")
    pkg = portal.world.packages["main"].public_id
    response = await portal.client.post(f"/packages/{pkg}/acknowledge", data={"csrf_token": "guess"})
    assert response.status == 403
    page = await (await portal.client.get(f"/packages/{pkg}")).text()
    assert 'id="ack-state">未' in page
