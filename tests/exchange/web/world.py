"""A small portal world for tests: parties, people, contracts, delivered packages and ready accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyotp
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity import totp
from exchange.identity.accounts import hash_password_async
from exchange.keys import sealing
from ledger.models.contracts import Contract, Designation, DesignationRole, Program
from ledger.models.identity import TotpFactor
from ledger.models.packages import Package, PackageStatus
from ledger.models.parties import Account, Party, PartyKind, Person, PersonRole

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def keyring(tmp_path: Path) -> sealing.Keyring:
    path = tmp_path / "master.key"
    if not path.exists():
        sealing.create_master_key(path)
    return sealing.Keyring.load(path)


@dataclass
class World:
    keyring: sealing.Keyring
    packages: dict[str, Package] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # login -> TOTP secret
    used_steps: dict[str, int] = field(default_factory=dict)

    def code(self, login: str) -> str:
        """A TOTP code the server has not seen for this account yet (codes are single-use)."""
        current = int(datetime.now(UTC).timestamp()) // totp.STEP_SECONDS
        step = max(current - 1, self.used_steps.get(login, 0) + 1)
        assert step <= current + 1, "too many logins of one account within a minute"
        self.used_steps[login] = step
        return pyotp.TOTP(self.secrets[login]).generate_otp(step)

    async def login(self, client: TestClient, login: str, password: str = PASSWORD) -> str:
        """Sign in (with TOTP when the account has one); returns the session's CSRF token."""
        client.session.cookie_jar.clear()
        response = await client.post("/login", data={"login": login, "password": password}, allow_redirects=False)
        assert response.status == 303, await response.text()
        if response.headers["Location"] == "/login/totp":
            response = await client.post(
                "/login/totp",
                data={"csrf_token": await self._challenge_csrf(client), "code": self.code(login)},
                allow_redirects=False,
            )
            assert response.status == 303 and response.headers["Location"] == "/", await response.text()
        return await csrf_of(client)

    @staticmethod
    async def _challenge_csrf(client: TestClient) -> str:
        page = await (await client.get("/login/totp")).text()
        match = CSRF.search(page)
        assert match, page
        return match.group(1)


async def csrf_of(client: TestClient) -> str:
    page = await (await client.get("/")).text()
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


def _party(session: AsyncSession, code: str, kind: PartyKind, allow: list[str]) -> Party:
    party = Party(code=code, name=f"{code}株式会社", kind=kind, ip_allowlist=allow)
    session.add(party)
    return party


async def build(session: AsyncSession, tmp_path: Path, ring: sealing.Keyring) -> World:
    """Contractor A (main contract) with sub-contractor B, contractor C, an expired contractor E, and a
    contractor N whose allowlist excludes the test client's address."""
    world = World(ring)
    ward = _party(session, "ward", PartyKind.WARD, [])
    a = _party(session, "a", PartyKind.CONTRACTOR, ["127.0.0.0/8"])
    b = _party(session, "b", PartyKind.SUBCONTRACTOR, ["127.0.0.1/32"])
    c = _party(session, "c", PartyKind.CONTRACTOR, ["127.0.0.1"])
    e = _party(session, "e", PartyKind.CONTRACTOR, ["::1/128", "127.0.0.1/32"])
    n = _party(session, "n", PartyKind.CONTRACTOR, ["10.0.0.0/8"])
    welfare = Program(code="p-welfare", name="生活保護 追加給付", section="生活福祉課")
    kaigo = Program(code="p-kaigo", name="介護保険料", section="介護保険課")
    session.add_all([welfare, kaigo])
    await session.flush()
    live = {"starts_on": date(2020, 4, 1), "ends_on": date(2099, 3, 31)}

    def contract(code: str, party: Party, **extra: object) -> Contract:
        values: dict[str, object] = {"program_id": welfare.id, "channels": ["local"], "download_limit": 10, **live}
        values.update(extra)
        row = Contract(code=code, name=f"{code}契約", party_id=party.id, **values)
        session.add(row)
        world.contracts[code] = row
        return row

    main = contract("main", a)
    await session.flush()
    contract(
        "sub",
        b,
        parent_id=main.id,
        approved_by="課長",
        approved_at=datetime(2020, 3, 1, tzinfo=UTC),
        approval_ref="見福第1号",
    )
    contract("other", c)
    contract("expired", e, starts_on=date(2020, 4, 1), ends_on=date(2021, 3, 31))
    contract("netdenied", n)
    contract("kaigo", c, program_id=kaigo.id)
    await session.flush()

    people = [
        ("staff-same", ward, PersonRole.STAFF, "生活福祉課", None),
        ("staff-other", ward, PersonRole.STAFF, "介護保険課", None),
        ("compliance", ward, PersonRole.COMPLIANCE, "区政情報課", None),
        ("a-handler", a, PersonRole.HANDLER, None, ("main", DesignationRole.HANDLER)),
        ("a-manager", a, PersonRole.MANAGER, None, ("main", DesignationRole.MANAGER)),
        ("a-former", a, PersonRole.HANDLER, None, ("main", DesignationRole.HANDLER)),
        ("b-handler", b, PersonRole.HANDLER, None, ("sub", DesignationRole.HANDLER)),
        ("c-handler", c, PersonRole.HANDLER, None, ("other", DesignationRole.HANDLER)),
        ("e-handler", e, PersonRole.HANDLER, None, ("expired", DesignationRole.HANDLER)),
        ("n-handler", n, PersonRole.HANDLER, None, ("netdenied", DesignationRole.HANDLER)),
    ]
    for code, party, role, section, designation in people:
        person = Person(code=code, party_id=party.id, name=f"{code} 様", role=role, section=section)
        session.add(person)
        await session.flush()
        world.people[code] = person
        if designation is not None:
            row = Designation(contract_id=world.contracts[designation[0]].id, person_id=person.id, role=designation[1])
            if code == "a-former":
                row.revoked_at = datetime.now(UTC) - timedelta(days=1)
            session.add(row)
        await add_account(session, world, code, role, person)
    await add_account(session, world, "admin", PersonRole.ADMIN, None)

    store = tmp_path / "store"
    store.mkdir(exist_ok=True)
    for code in ("main", "sub", "other", "expired", "netdenied"):
        world.packages[code] = await add_package(session, world.contracts[code], store, bytes(range(256)) * 64)
    return world


async def add_account(session: AsyncSession, world: World, login: str, role: PersonRole, person: Person | None) -> None:
    account = Account(
        login=login,
        role=role,
        person_id=person.id if person else None,
        password_hash=await hash_password_async(PASSWORD),
        must_change_password=False,
    )
    session.add(account)
    await session.flush()
    if role is PersonRole.STAFF:
        return  # second factor optional for ward staff by default
    secret = totp.new_secret()
    world.secrets[login] = secret
    session.add(
        TotpFactor(
            account_id=account.id,
            sealed_secret=totp.seal_secret(world.keyring, secret, account.public_id),
            key_id=world.keyring.current.key_id,
        )
    )


async def add_package(
    session: AsyncSession,
    contract: Contract,
    store: Path,
    content: bytes,
    *,
    sealed: bytes | None = None,
    public_id: str | None = None,
) -> Package:
    kwargs = {"public_id": public_id} if public_id else {}
    package = Package(
        contract_id=contract.id,
        status=PackageStatus.DELIVERED,
        zip_name=f"{contract.code}_データ.zip",
        store_path="",
        size=len(content),
        sha256="0" * 64,
        sealed_password=sealed,
        key_id="k",
        connector="outbox",
        delivered_via="outbox",
        download_limit=contract.download_limit,
        delivered_at=datetime.now(UTC),
        **kwargs,
    )
    session.add(package)
    await session.flush()
    path = store / f"{package.public_id}.zip"
    path.write_bytes(content)
    package.store_path = str(path)
    return package
