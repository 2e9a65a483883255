"""Staff actions: revoke and re-send a package, designation changes reaching the endpoints, ward notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from connectors.base import AccessRole, ConnectorError, Grantee, Jurisdiction
from connectors.local import LocalConnector
from exchange.web.app import create_app
from exchange.web.context import PortalDeps
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract, Route, RouteTarget
from ledger.models.duties import DutyNotice, NoticeAudience
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import IntakeFile, IntakeStatus, Package, PackageStatus
from ledger.models.parties import Person
from tests.exchange.web.portal import Portal
from tests.factories import add_package


async def _package(portal: Portal, public_id: str) -> Package:
    async with portal.maker() as session:
        return (await session.execute(select(Package).where(Package.public_id == public_id))).scalar_one()


async def _register(portal: Portal, kind: str) -> list[str]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [row.decode() for row in rows]


async def _audit(portal: Portal, action: str) -> list[AuditEvent]:
    async with portal.maker() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def test_revoke_stops_downloads_and_password_pickup(portal: Portal) -> None:
    client, package = portal.client, portal.world.packages["main"]
    await portal.login("a-handler", client)
    url = f"/packages/{package.public_id}"
    assert (await client.get(f"{url}/download")).status == 200
    assert (await client.get(f"{url}/password")).status == 200

    csrf = await portal.login("staff-same", client)
    empty = await client.post(f"/staff/packages/{package.public_id}/revoke", data={"csrf_token": csrf, "reason": " "})
    assert empty.status == 400 and "理由を入力" in await empty.text()
    assert await _register(portal, "package.revoked") == []
    revoked = await client.post(
        f"/staff/packages/{package.public_id}/revoke",
        data={"csrf_token": csrf, "reason": "宛先誤りのため"},
        allow_redirects=False,
    )
    assert revoked.status == 303 and revoked.headers["Location"] == "/staff"
    stored = await _package(portal, package.public_id)
    assert stored.revoked_at is not None and stored.download_count == 1
    [line] = await _register(portal, "package.revoked")
    assert "宛先誤りのため" in line and "管理" in line
    assert [e.object_id for e in await _audit(portal, "package.revoke")] == [package.public_id]
    assert "（提供取消し）" in await (await client.get("/staff")).text()

    await portal.login("a-handler", client)
    for response in (
        await client.get(f"{url}/download"),
        await client.get(f"{url}/download", headers={"Range": "bytes=10-"}),
        await client.get(f"{url}/password"),
    ):
        assert response.status == 403 and "提供を取り消しました" in await response.text()
    assert (await client.get(url)).status == 200


async def _failed_delivery(portal: Portal) -> tuple[Package, IntakeFile]:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        route = Route(
            code="r-main",
            name="追加給付",
            program_id=contract.program_id,
            watch_dir="/srv/in",
            quarantine_dir="/srv/q",
        )
        session.add(route)
        await session.flush()
        never = datetime(9999, 1, 1, tzinfo=UTC)
        intake = IntakeFile(
            route_id=route.id,
            source_path="/srv/in/a.csv",
            file_name="a.csv",
            size=3,
            status=IntakeStatus.PACKED,
            attempts=7,
            next_attempt_at=never,
        )
        session.add(intake)
        await session.flush()
        package = await add_package(
            session, contract, delivered_at=None, store=portal.data_dir.parent / "store", data=b"zip"
        )
        package.status, package.intake_id = PackageStatus.FAILED, intake.id
        package.attempts, package.next_attempt_at, package.last_error = 3, never, "outbox: 接続できません"
    return package, intake


async def test_resend_requeues_a_failed_delivery_for_ward_changers_only(portal: Portal) -> None:
    package, intake = await _failed_delivery(portal)
    client = portal.client
    expected = {"admin": 303, "staff-same": 303, "staff-other": 403, "compliance": 403, "a-handler": 404}
    got = {}
    before = datetime.now(UTC)
    for role in expected:
        csrf = await portal.login(role, client)
        response = await client.post(
            f"/staff/packages/{package.public_id}/resend", data={"csrf_token": csrf}, allow_redirects=False
        )
        got[role] = response.status
    assert got == expected
    stored = await _package(portal, package.public_id)
    assert stored.status == PackageStatus.SEALED and stored.attempts == 0
    assert stored.next_attempt_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    async with portal.maker() as session:
        row = await session.get(IntakeFile, intake.id)
        assert row is not None and row.attempts == 0
        assert before - timedelta(seconds=1) <= row.next_attempt_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    lines = await _register(portal, "package.resend")
    assert len(lines) == 2 and "接続できません" in lines[0]
    assert [e.outcome for e in await _audit(portal, "package.resend")].count("allowed") == 2


async def test_resend_refuses_a_delivered_package(portal: Portal) -> None:
    csrf = await portal.login("staff-same")
    package = portal.world.packages["main"]
    response = await portal.client.post(f"/staff/packages/{package.public_id}/resend", data={"csrf_token": csrf})
    assert response.status == 400 and "再送できません" in await response.text()
    assert await _register(portal, "package.resend") == []


class RecordingConnector(LocalConnector):
    def __init__(self, root: Path, *, fail: bool = False) -> None:
        super().__init__("outbox", Jurisdiction("jp", "tokyo"), root=root)
        self.calls: list[tuple[str, str, list[str]]] = []
        self.fail = fail

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        if self.fail:
            raise ConnectorError("接続先が応答しません。", retryable=True)
        self.calls.append(("grant", folder, sorted(p.login for p in people)))

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        if self.fail:
            raise ConnectorError("接続先が応答しません。", retryable=True)
        self.calls.append(("revoke", folder, sorted(p.login for p in people)))


async def _with_connector(portal: Portal, aiohttp_client: AiohttpClient, connector: RecordingConnector) -> None:
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        route = Route(code="r", name="r", program_id=contract.program_id, watch_dir="/in", quarantine_dir="/q")
        session.add(route)
        await session.flush()
        session.add(RouteTarget(route_id=route.id, contract_id=contract.id, connector="outbox"))
        for code in ("a-handler", "a-manager", "a-former"):
            person = (await session.execute(select(Person).where(Person.code == code))).scalar_one()
            person.email = f"{code}@a.example.jp"
    deps = PortalDeps(keyring=portal.world.keyring, connectors={"outbox": connector})
    portal.client = await aiohttp_client(create_app(portal.maker, deps=deps))


async def test_designation_changes_reach_the_endpoints(
    portal: Portal, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    connector = RecordingConnector(tmp_path / "outbox")
    await _with_connector(portal, aiohttp_client, connector)
    csrf = await portal.login("staff-same")
    url = f"/staff/contracts/{portal.world.contracts['main'].public_id}/designations"
    form = {"csrf_token": csrf, "person": portal.world.people["a-handler"].public_id, "role": "handler"}
    response = await portal.client.post(url, data={**form, "op": "revoke"}, allow_redirects=False)
    assert response.status == 303
    assert connector.calls == [
        ("revoke", "main", ["a-former@a.example.jp", "a-handler@a.example.jp"]),
        ("grant", "main", ["a-manager@a.example.jp"]),
    ]
    connector.calls.clear()
    response = await portal.client.post(url, data={**form, "op": "designate"}, allow_redirects=False)
    assert response.status == 303
    assert connector.calls == [
        ("revoke", "main", ["a-former@a.example.jp"]),
        ("grant", "main", ["a-handler@a.example.jp", "a-manager@a.example.jp"]),
    ]


async def test_an_endpoint_that_fails_is_reported_and_the_designation_stands(
    portal: Portal, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    await _with_connector(portal, aiohttp_client, RecordingConnector(tmp_path / "outbox", fail=True))
    csrf = await portal.login("staff-same")
    contract = portal.world.contracts["main"].public_id
    form = {"csrf_token": csrf, "person": portal.world.people["a-handler"].public_id, "role": "handler"}
    response = await portal.client.post(f"/staff/contracts/{contract}/designations", data={**form, "op": "revoke"})
    assert response.status == 502 and "接続先が応答しません" in await response.text()
    [failed] = await _audit(portal, "designation.sync")
    assert failed.outcome == "failed"
    assert len(await _register(portal, "designation.revoked")) == 1
    page = await (await portal.client.get(f"/staff/contracts/{contract}")).text()
    assert "取消し（" in page


async def test_staff_home_lists_ward_notices_of_the_own_section(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        contracts = {c.code: c for c in (await session.execute(select(Contract))).scalars()}
        for kind, contract, audience, message in (
            ("certificate.overdue", "main", NoticeAudience.WARD, "消去証明書が期限を過ぎています（main）"),
            ("return.overdue", "kaigo", NoticeAudience.WARD, "返却期限を過ぎています（kaigo）"),
            ("certificate.reminder", "main", NoticeAudience.CONTRACTOR, "提出してください（委託先あて）"),
        ):
            session.add(
                DutyNotice(
                    kind=kind,
                    subject_id=contracts[contract].public_id,
                    occasion="overdue",
                    audience=audience,
                    contract_id=contracts[contract].id,
                    message_ja=message,
                )
            )
    client = portal.client
    await portal.login("staff-same", client)
    page = await (await client.get("/staff")).text()
    assert "消去証明書が期限を過ぎています（main）" in page
    assert "kaigo" not in page and "委託先あて" not in page
    await portal.login("staff-other", client)
    page = await (await client.get("/staff")).text()
    assert "返却期限を過ぎています（kaigo）" in page and "（main）" not in page
    await portal.login("admin", client)
    page = await (await client.get("/staff")).text()
    assert "（main）" in page and "（kaigo）" in page and "委託先あて" not in page
