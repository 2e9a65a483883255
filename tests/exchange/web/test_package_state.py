"""One package state, one answer: every refused state walked through the portal pages, the API, the command line
and the password release; and ``handover packages acknowledge`` held to the portal's own rule."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from click.testing import CliRunner, Result
from sqlalchemy import select

from exchange.cli import main
from exchange.delivery.package_state import PackageState, StateRefusal
from exchange.identity import api_tokens
from exchange.keys import sealing
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package, PackageStatus, PasswordRelease
from ledger.models.parties import Account
from ledger.registers import media as media_register
from tests.exchange.web.portal import Portal
from tests.factories import add_package

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
    if state is PackageState.REVOKED:  # receipt of data retrieved before the withdrawal is still a fact
        await portal.login("a-handler", client)
        assert (await client.get(f"/packages/{pid}/download")).status == 200
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
        (
            "cli password notice",
            "password",
            ("password", "notice", pid, "--to", "a-handler", "--by", "staff-same", "--out", str(notice)),
        ),
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
        # Only the download made before the withdrawal (see above) was counted.
        assert package.download_count == (1 if state is PackageState.REVOKED else 0)
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
        assert "取扱責任者・取扱者に指定されていません" in result.stderr
    assert await _acknowledgements(portal, pid) == []
    async with portal.maker() as session:
        package = (await session.execute(select(Package).where(Package.public_id == pid))).scalar_one()
        assert package.acknowledged_at is None and package.acknowledged_by_id is None


async def test_cli_acknowledge_keeps_the_first_and_writes_the_portals_line(portal: Portal, db_url: str) -> None:
    config = _config(portal, db_url)
    main_pid, sub_pid = portal.world.packages["main"].public_id, portal.world.packages["sub"].public_id
    not_retrieved = await _cli(config, "packages", "acknowledge", main_pid, "--by", "a-handler")
    assert not_retrieved.exit_code == 2 and "受け取られていない" in not_retrieved.stderr
    await portal.login("a-handler")  # the handler retrieves the data: only then is a receipt a fact
    assert (await portal.client.get(f"/packages/{main_pid}/download")).status == 200
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
    assert (await portal.client.get(f"/packages/{sub_pid}/download")).status == 200
    await portal.client.post(f"/packages/{sub_pid}/acknowledge", data={"csrf_token": csrf})
    [by_portal] = await _acknowledgements(portal, sub_pid)
    # One register line for a receipt, whoever records it; only the channel says how it reached the hub.
    assert by_staff["channel"] == "staff" and by_portal["channel"] == "portal"
    assert by_staff["handler_to"] == "a-handler 様" and by_portal["handler_to"] == "b-handler 様"
    same = {key: value for key, value in by_staff.items() if key not in ("channel", "handler_to", "content")}
    assert same == {key: value for key, value in by_portal.items() if key not in ("channel", "handler_to", "content")}
    assert by_staff["content"] == "受領確認（main_データ.zip）" and by_portal["content"] == "受領確認（sub_データ.zip）"


async def test_cli_hand_overs_take_codes_of_designated_people_and_ward_staff(
    portal: Portal, db_url: str, tmp_path: Path
) -> None:
    """Notice, its return and a receipt name people by code: designated (contractor), owning section (ward)."""
    config = _config(portal, db_url)
    pid = portal.world.packages["main"].public_id
    out = str(tmp_path / "n.pdf")
    refusals = [
        (("password", "notice", pid, "--to", "山田 太郎", "--by", "staff-same", "--out", out), "人物コード"),
        (("password", "notice", pid, "--to", "c-handler", "--by", "staff-same", "--out", out), "指定されていません"),
        (("password", "notice", pid, "--to", "a-former", "--by", "staff-same", "--out", out), "指定されていません"),
        (("password", "notice", pid, "--to", "a-handler", "--by", "区役 花子", "--out", out), "人物コード"),
        (("password", "notice", pid, "--to", "a-handler", "--by", "staff-other", "--out", out), "職員ではありません"),
        (("password", "notice", pid, "--to", "a-handler", "--by", "a-manager", "--out", out), "職員ではありません"),
        (("password", "notice-returned", pid, "--received-by", "区役 花子"), "人物コード"),
        (("password", "notice-returned", pid, "--received-by", "staff-other"), "職員ではありません"),
        (("packages", "acknowledge", pid, "--by", "山田 太郎"), "人物コード"),
    ]
    for args, words in refusals:
        result = await _cli(config, *args)
        assert result.exit_code == 2 and words in result.stderr, (args, result.stderr)
    assert not (tmp_path / "n.pdf").exists()
    async with portal.maker() as session:
        assert list((await session.execute(select(PasswordRelease))).scalars()) == []


async def test_cli_notice_names_the_staff_member_who_hands_it_over(portal: Portal, db_url: str, tmp_path: Path) -> None:
    ring = portal.world.keyring
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        package = await add_package(
            session, contract, delivered_at=datetime.now(UTC), store=portal.data_dir.parent / "store", data=b"zip"
        )
        package.sealed_password = sealing.seal(ring.current, b"Notice-Pass-1234", package.public_id.encode()).to_bytes()
    pid, config = package.public_id, _config(portal, db_url)
    await portal.login("a-handler")
    assert (await portal.client.get(f"/packages/{pid}/download")).status == 200
    assert (await _cli(config, "packages", "acknowledge", pid, "--by", "a-handler")).exit_code == 0
    out = tmp_path / "n.pdf"
    printed = await _cli(
        config, "password", "notice", pid, "--to", "a-handler", "--by", "staff-same", "--out", str(out)
    )
    assert printed.exit_code == 0, printed.stderr
    returned = await _cli(config, "password", "notice-returned", pid, "--received-by", "staff-same")
    assert returned.exit_code == 0, returned.stderr
    async with portal.maker() as session:
        rows = (
            await session.execute(
                select(LedgerEntry.kind, LedgerEntry.entry)
                .where(LedgerEntry.package_id == pid)
                .order_by(LedgerEntry.idx)
            )
        ).all()
        [returned_line] = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "return.received"))
        ).scalars()
    lines = {kind: json.loads(entry)["data"] for kind, entry in rows}
    handed = lines["password.notice_handed_over"]
    assert "（staff-same）" in handed["handler_from"] and "（a-handler）" in handed["handler_to"]
    staff = portal.world.people["staff-same"].name
    assert json.loads(returned_line)["data"]["handler_to"] == f"{staff}（staff-same）"


async def _set_location(portal: Portal, pid: str, connector: str) -> Package:
    """What the pipeline records once ``connector.verify`` read the delivered copy back."""
    async with portal.maker() as session, session.begin():
        package = (await session.execute(select(Package).where(Package.public_id == pid))).scalar_one()
        package.delivered_via = connector
        package.location = {"connector": connector, "folder": "main", "location": f"/srv/{connector}/{pid}.zip"}
        return package


async def test_cli_acknowledge_accepts_a_verified_connector_delivery_without_a_download(
    portal: Portal, db_url: str
) -> None:
    config = _config(portal, db_url)
    pid = portal.world.packages["main"].public_id
    await _set_location(portal, pid, "outbox")
    recorded = await _cli(config, "packages", "acknowledge", pid, "--by", "a-handler")
    assert recorded.exit_code == 0 and "receipt recorded" in recorded.stdout, recorded.output
    assert [line["handler_to"] for line in await _acknowledgements(portal, pid)] == [
        portal.world.people["a-handler"].name
    ]


@dataclass(frozen=True)
class _DiscFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Disc:
    media_id: str
    files: tuple[_DiscFile, ...]
    image_size: int
    image_sha256: str


async def test_cli_acknowledge_of_a_package_on_a_disc_needs_its_hand_over_to_that_person(
    portal: Portal, db_url: str
) -> None:
    config = _config(portal, db_url)
    pid = portal.world.packages["main"].public_id
    package = await _set_location(portal, pid, "dvd")  # staged in the ward's media folder: not yet with anyone
    disc = _Disc("DVD-2026-ABCDEF", (_DiscFile(package.zip_name, package.size, package.sha256),), 2048, "1" * 64)
    async with portal.maker() as session, session.begin():
        contract = await session.get(Contract, package.contract_id)
        assert contract is not None
        medium = await media_register.register_medium(session, contract, disc, prepared_by="staff-same")
    staged = await _cli(config, "packages", "acknowledge", pid, "--by", "a-handler")
    assert staged.exit_code == 2 and "受け取られていない" in staged.stderr
    async with portal.maker() as session, session.begin():
        medium = await media_register.get_medium(session, "DVD-2026-ABCDEF")
        await media_register.hand_over(
            session, medium, handed_by="staff-same", handed_to="a-manager", due_back_on=date(2099, 1, 1)
        )
    not_theirs = await _cli(config, "packages", "acknowledge", pid, "--by", "a-handler")
    assert not_theirs.exit_code == 2 and "受け取られていない" in not_theirs.stderr
    taker = await _cli(config, "packages", "acknowledge", pid, "--by", "a-manager")
    assert taker.exit_code == 0 and "receipt recorded" in taker.stdout, taker.output
    assert [line["handler_to"] for line in await _acknowledgements(portal, pid)] == [
        portal.world.people["a-manager"].name
    ]
