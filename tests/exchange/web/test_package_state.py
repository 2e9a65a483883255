"""One package state, one answer: every refused state walked through the portal pages, the API, the command line
and the password release; and ``handover packages acknowledge`` held to the portal's own rule."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from click.testing import CliRunner, Result
from sqlalchemy import select

from exchange.cli import main
from exchange.delivery.package_state import PackageState, StateRefusal
from exchange.identity import api_tokens
from ledger.models.audit import AuditEvent
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package, PackageStatus, PasswordRelease
from ledger.models.parties import Account
from tests.exchange.web.portal import Portal

HIDDEN = "対象が見つかりません。"
EVERY_USE = {"view", "download", "acknowledge", "password"}
# Written out here, not read from the module under test: what each state stops, and a word of its reason.
STOPPED = {
    PackageState.ERASED: EVERY_USE,
    PackageState.NOT_DELIVERED: EVERY_USE,
    PackageState.FROZEN: EVERY_USE - {"view"},
    PackageState.REVOKED: {"download", "password"},
}
WORDS = {
    PackageState.ERASED: "消去済み",
    PackageState.NOT_DELIVERED: "まだ届いていません",
    PackageState.FROZEN: "凍結",
    PackageState.REVOKED: "提供を取り消しました",
}


def _config(portal: Portal, db_url: str) -> Path:
    """The hub configuration the portal's world runs on: same database, same master key, same connector."""
    root = portal.data_dir.parent
    (root / "outbox").mkdir(exist_ok=True)
    config = root / "hub.toml"
    config.write_text(
        f'data_dir = "{root}"\n[database]\nurl = "{db_url}"\n'
        f'[connectors.outbox]\nkind = "local"\nroot = "{root / "outbox"}"\n'
        'jurisdiction = { country = "jp", region = "test" }\n',
        encoding="utf-8",
    )
    return config


async def _cli(config: Path, *args: str) -> Result:
    """``handover …`` in-process (in a thread: it runs its own event loop), keeping pytest's log handlers."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), *args])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exit_code in (0, 2), result.output
    return result


async def _mark(portal: Portal, public_id: str, state: PackageState) -> None:
    async with portal.maker.begin() as session:
        package = (await session.execute(select(Package).where(Package.public_id == public_id))).scalar_one()
        now = datetime.now(UTC)
        if state is PackageState.ERASED:
            package.status, package.deleted_at, package.sealed_password = PackageStatus.DELETED, now, None
        elif state is PackageState.NOT_DELIVERED:
            package.status, package.delivered_at = PackageStatus.SEALED, None
        elif state is PackageState.FROZEN:
            package.frozen_at = now
        else:
            package.revoked_at = now


async def _token(portal: Portal, login: str) -> dict[str, str]:
    async with portal.maker.begin() as session:
        account = (await session.execute(select(Account).where(Account.login == login))).scalar_one()
        return {"Authorization": f"Bearer {api_tokens.create(session, account, 'test', now=datetime.now(UTC))}"}


@pytest.mark.parametrize(
    "state",
    [PackageState.ERASED, PackageState.NOT_DELIVERED, PackageState.FROZEN, PackageState.REVOKED],
    ids=str,
)
async def test_every_path_refuses_the_same_uses_with_the_same_reason(
    portal: Portal, db_url: str, tmp_path: Path, state: PackageState
) -> None:
    client, pid = portal.client, portal.world.packages["main"].public_id
    await _mark(portal, pid, state)
    config = _config(portal, db_url)
    auth = await _token(portal, "a-handler")
    csrf = await portal.login("a-handler", client)
    url = f"/packages/{pid}"
    web: list[tuple[str, str, Callable[[], Awaitable[ClientResponse]]]] = [
        ("portal page", "view", lambda: client.get(url)),
        ("portal download", "download", lambda: client.get(f"{url}/download")),
        ("portal resume", "download", lambda: client.get(f"{url}/download", headers={"Range": "bytes=10-"})),
        ("portal password page", "password", lambda: client.get(f"{url}/password")),
        ("portal password release", "password", lambda: client.post(f"{url}/password", data={"csrf_token": csrf})),
        ("portal acknowledge", "acknowledge", lambda: client.post(f"{url}/acknowledge", data={"csrf_token": csrf})),
        ("api package", "view", lambda: client.get(f"/api/v1{url}", headers=auth)),
        ("api download", "download", lambda: client.get(f"/api/v1{url}/content", headers=auth)),
        ("api acknowledge", "acknowledge", lambda: client.post(f"/api/v1{url}/acknowledge", headers=auth)),
    ]
    outcomes: dict[str, tuple[bool, str]] = {}
    expected: dict[str, bool] = {}
    for label, use, send in web:
        response = await send()
        body = await response.text()
        if response.status in (200, 206, 303):
            outcomes[label] = (False, "")
        else:
            assert response.status in (403, 404), (label, response.status, body)
            outcomes[label] = (True, json.loads(body)["error"] if label.startswith("api") else body)
        expected[label] = use in STOPPED[state]
    notice = tmp_path / "notice.pdf"
    for label, use, args in [
        ("cli password notice", "password", ("password", "notice", pid, "--to", "a-handler", "--out", str(notice))),
        ("cli acknowledge", "acknowledge", ("packages", "acknowledge", pid, "--by", "a-manager")),
    ]:
        result = await _cli(config, *args)
        outcomes[label] = (result.exit_code != 0, result.stderr)
        expected[label] = use in STOPPED[state]

    assert {label: refused for label, (refused, _shown) in outcomes.items()} == expected
    reason = StateRefusal(state).reason_ja
    assert WORDS[state] in reason
    for label, (refused, shown) in outcomes.items():
        if not refused:
            continue
        # A package not delivered does not exist, to anyone, through the web; the command line says why.
        hidden = state is PackageState.NOT_DELIVERED and not label.startswith("cli")
        assert (HIDDEN if hidden else reason) in shown, label
    assert not notice.exists()

    async with portal.maker() as session:
        codes = (
            await session.execute(
                select(AuditEvent.detail).where(AuditEvent.object_id == pid, AuditEvent.outcome == "denied")
            )
        ).scalars()
        assert {detail["code"] for detail in codes} == {f"package.{state.value}"}
        [release] = (await session.execute(select(PasswordRelease))).scalars()
        assert (release.allowed, release.reason_code) == (False, f"package.{state.value}")
        refused_lines = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "password.refused"))
        ).scalars()
        assert [json.loads(line)["data"]["details"]["reason"] for line in refused_lines] == [reason]
        package = (await session.execute(select(Package).where(Package.public_id == pid))).scalar_one()
        assert package.download_count == 0
        acknowledged_by = portal.world.people["a-handler"].id if "acknowledge" not in STOPPED[state] else None
        assert package.acknowledged_by_id == acknowledged_by


async def _acknowledgements(portal: Portal, pid: str) -> list[dict[str, object]]:
    async with portal.maker() as session:
        rows = (
            await session.execute(
                select(LedgerEntry.entry)
                .where(LedgerEntry.kind == "package.acknowledged", LedgerEntry.package_id == pid)
                .order_by(LedgerEntry.idx)
            )
        ).scalars()
        return [json.loads(row)["data"] for row in rows]


async def test_cli_acknowledge_refuses_a_person_not_designated_on_the_contract(portal: Portal, db_url: str) -> None:
    config = _config(portal, db_url)
    pid = portal.world.packages["main"].public_id
    # Another party's handler, a handler whose designation was revoked, and ward staff.
    for person in ("c-handler", "a-former", "staff-same"):
        result = await _cli(config, "packages", "acknowledge", pid, "--by", person)
        assert result.exit_code == 2, person
        assert "取扱責任者・取扱者についてのみ" in result.stderr
    assert await _acknowledgements(portal, pid) == []
    async with portal.maker() as session:
        package = (await session.execute(select(Package).where(Package.public_id == pid))).scalar_one()
        assert package.acknowledged_at is None and package.acknowledged_by_id is None


async def test_cli_acknowledge_keeps_the_first_and_writes_the_portals_line(portal: Portal, db_url: str) -> None:
    config = _config(portal, db_url)
    main_pid, sub_pid = portal.world.packages["main"].public_id, portal.world.packages["sub"].public_id
    recorded = await _cli(config, "packages", "acknowledge", main_pid, "--by", "a-handler")
    assert recorded.exit_code == 0 and "receipt recorded" in recorded.stdout
    async with portal.maker() as session:
        first = (await session.execute(select(Package).where(Package.public_id == main_pid))).scalar_one()
    again = await _cli(config, "packages", "acknowledge", main_pid, "--by", "a-manager")
    assert again.exit_code == 0 and "first acknowledgement stands" in again.stdout
    # Nor does the portal overwrite what the command line recorded.
    csrf = await portal.login("a-manager")
    await portal.client.post(f"/packages/{main_pid}/acknowledge", data={"csrf_token": csrf})
    async with portal.maker() as session:
        stored = (await session.execute(select(Package).where(Package.public_id == main_pid))).scalar_one()
    assert (stored.acknowledged_at, stored.acknowledged_by_id) == (first.acknowledged_at, first.acknowledged_by_id)
    assert stored.acknowledged_by_id == portal.world.people["a-handler"].id
    [by_staff] = await _acknowledgements(portal, main_pid)

    csrf = await portal.login("b-handler")
    await portal.client.post(f"/packages/{sub_pid}/acknowledge", data={"csrf_token": csrf})
    [by_portal] = await _acknowledgements(portal, sub_pid)
    # One register line for a receipt, whoever records it; only the channel says how it reached the hub.
    assert by_staff["channel"] == "staff" and by_portal["channel"] == "portal"
    assert by_staff["handler_to"] == "a-handler 様" and by_portal["handler_to"] == "b-handler 様"
    same = {key: value for key, value in by_staff.items() if key not in ("channel", "handler_to", "content")}
    assert same == {key: value for key, value in by_portal.items() if key not in ("channel", "handler_to", "content")}
    assert by_staff["content"] == "受領確認（main_データ.zip）" and by_portal["content"] == "受領確認（sub_データ.zip）"
