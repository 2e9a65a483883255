"""Builders of the test world: parties, programs, contracts, people, designations, accounts and packages.

Every test that needs rows gets them from here, so a new required column is added in one place. Each builder
adds its row and flushes, so the row has its id; keyword arguments override any column. Ready-made scenes sit
on top of the builders:

- ``load_demo``: the demo data in ``config/demo``, through the product's own importer (what a running hub sees);
- ``portal_world``: contractor A with sub-contractor B, contractor C, an expired contractor E and a contractor N
  whose network is not allowed, ward staff, and accounts with TOTP, for the web tests;
- ``register_world``: a ward, a printer and a call centre on three contracts, for the register and report tests;
- ``S1_CONTRACT`` and ``S1_PRINTER``: the same kind of contract as plain facts, for the policy rules;
- ``package_file``: an AES ZIP as the packer writes it, for the connector tests;
- ``issue_hub_certificate``: an issued, signed hub deletion certificate over one package.
- ``add_sealed_secrets``: one of every kind of secret sealed in the database, for the key-rotation tests.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pyzipper
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Jurisdiction
from exchange.admin import asp_credentials
from exchange.admin.data_import import import_files
from exchange.delivery.package_blobs import package_key
from exchange.identity import totp
from exchange.identity.accounts import hash_password_async
from exchange.inbound import return_folders
from exchange.keys import sealing
from ledger.hub_certificate import ErasedPackage, build_document, certificate_number, sign_document
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract, Designation, DesignationRole, Program, Route, RouteTarget
from ledger.models.identity import LoginChallenge, TotpFactor
from ledger.models.inbound import InboundFile
from ledger.models.packages import Package, PackageStatus
from ledger.models.parties import Account, Party, PartyKind, Person, PersonRole
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate, HubDeletionItem
from ledger.models.return_folders import ReturnDelivery, ReturnFolder
from ledger.tlog.checkpoint import SigningKey
from policies.pluginmanager import PluginConfig, build_plugin_manager
from policies.rules import ConnectorFacts, ContractFacts, SubcontractApproval

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "config" / "demo"
DEMO_FILES = sorted(DEMO_DIR.glob("*.toml"))
# The built-in benefit plugins, as a hub without third-party plugins has them (import defaults, intake hooks).
BUILTIN_PLUGINS = build_plugin_manager(PluginConfig(entry_points=False))
TOKYO = Jurisdiction("jp", "tokyo")
PASSWORD = "correct horse battery staple"  # every account's password, unless a test sets its own
PACKAGE_PASSWORD = b"correct-horse-battery-staple-42"
# What S1's contractor collects from applicants (seed 000, 収集させる項目), as the demo contract lists it.
S1_COLLECTED_ITEMS = ("氏名", "住所", "生年月日", "生活保護受給期間", "世帯員の死亡の有無", "加算の有無")
Row = TypeVar("Row")


# --- the world, row by row ---------------------------------------------------------------------------------------


async def _added(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.flush()
    return row


async def add_party(session: AsyncSession, code: str, kind: PartyKind, **columns: Any) -> Party:
    columns.setdefault("name", f"{code}株式会社")
    return await _added(session, Party(code=code, kind=kind, **columns))


async def add_program(session: AsyncSession, code: str, name: str, section: str) -> Program:
    return await _added(session, Program(code=code, name=name, section=section))


async def add_contract(session: AsyncSession, code: str, party: Party, program: Program, **columns: Any) -> Contract:
    """A contract in force from 2020 to 2099 unless ``starts_on``/``ends_on`` say otherwise."""
    values: dict[str, Any] = {"name": f"{code}契約", "starts_on": date(2020, 4, 1), "ends_on": date(2099, 3, 31)}
    values.update(columns)
    return await _added(session, Contract(code=code, party=party, program=program, **values))


async def contract_by_code(session: AsyncSession, code: str) -> Contract:
    return (await session.execute(select(Contract).where(Contract.code == code))).scalar_one()


async def add_person(session: AsyncSession, code: str, party: Party, role: PersonRole, **columns: Any) -> Person:
    columns.setdefault("name", f"{code} 様")
    return await _added(session, Person(code=code, party=party, role=role, **columns))


async def designate(
    session: AsyncSession, contract: Contract, person: Person, role: DesignationRole, **columns: Any
) -> Designation:
    return await _added(session, Designation(contract_id=contract.id, person_id=person.id, role=role, **columns))


async def add_account(
    session: AsyncSession, login: str, role: PersonRole, person: Person | None = None, *, password: str = PASSWORD
) -> Account:
    """A ready account (no password change pending), without a second factor."""
    return await _added(
        session,
        Account(
            login=login,
            role=role,
            person_id=person.id if person else None,
            password_hash=await hash_password_async(password),
            must_change_password=False,
        ),
    )


async def add_totp(session: AsyncSession, account: Account, keyring: sealing.Keyring) -> str:
    """Give ``account`` a TOTP factor; returns the secret, for the test to make codes with."""
    secret = totp.new_secret()
    sealed = totp.seal_secret(keyring, secret, account.public_id)
    await _added(session, TotpFactor(account_id=account.id, sealed_secret=sealed, key_id=keyring.current.key_id))
    return secret


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def add_package(
    session: AsyncSession,
    contract: Contract | str,
    *,
    delivered_at: datetime | None,
    store: Path | None = None,
    data: bytes | None = None,
    connector: str = "outbox",
    **columns: Any,
) -> Package:
    """A package as the pipeline leaves it: sealed, or delivered at ``delivered_at`` through ``connector``.

    ``contract`` is the row or its code. With ``store`` (the root of a local blob store), the ZIP's bytes
    (``data``, else a short stand-in) are its blob there, ``packages/<public_id>.zip``, as packing leaves them;
    without, the key names no blob.
    """
    if isinstance(contract, str):
        contract = await contract_by_code(session, contract)
    public_id = columns.pop("public_id", None) or new_public_id()
    zip_name = columns.pop("zip_name", None) or f"{contract.code}-{public_id[:8]}.zip"
    data = data if data is not None else f"encrypted zip {zip_name}".encode()
    key = package_key(public_id)
    if store is not None:
        await asyncio.to_thread(_write, store / key, data)
    values: dict[str, Any] = {
        "status": PackageStatus.DELIVERED if delivered_at else PackageStatus.SEALED,
        "blob_key": key,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content": {"files": [{"name": "data.csv", "size": 10, "sha256": "0" * 64, "records": 3}]},
        "sealed_password": b"sealed-secret",
        "key_id": "k1",
        "delivered_via": connector if delivered_at else None,
        "download_limit": contract.download_limit,
    }
    values.update(columns)
    package = Package(
        public_id=public_id,
        contract=contract,
        zip_name=zip_name,
        connector=connector,
        delivered_at=delivered_at,
        **values,
    )
    return await _added(session, package)


async def issue_hub_certificate(session: AsyncSession, package: Package, key: SigningKey) -> HubDeletionCertificate:
    """An issued hub deletion certificate over ``package``, signed as the retention sweep signs it; its files are
    not yet in the blob store (``hub_certificate_files.export_missing`` writes them, as the sweep does)."""
    now = datetime.now(UTC)
    contract = await session.get_one(Contract, package.contract_id)
    certificate = await _added(
        session, HubDeletionCertificate(status=HubCertificateStatus.OPEN, opened_at=now - timedelta(minutes=5))
    )
    copy = {"target": "store", "connector": None, "location": package.blob_key, "method": "logical-delete"}
    item = await _added(
        session,
        HubDeletionItem(
            certificate_id=certificate.id,
            package_id=package.id,
            due_at=now - timedelta(days=1),
            copies=[{**copy, "method_ja": "論理削除（ハブの保管領域から削除）", "verification": "exists() is false"}],
            erased_at=now,
        ),
    )
    number = certificate_number(certificate, now)
    signed = sign_document(
        build_document(certificate, number, [ErasedPackage(item, package, contract)], now, key.verifier), key
    )
    certificate.status, certificate.issued_at, certificate.number = HubCertificateStatus.ISSUED, now, number
    certificate.document, certificate.signature, certificate.vkey = signed.text, signed.signature, key.verifier.vkey
    await session.flush()
    return certificate


def keyring(directory: Path) -> sealing.Keyring:
    """The hub's sealing keys, from ``directory/master.key`` (made on first use; file work, so call it off the
    event loop)."""
    path = directory / "master.key"
    if not path.exists():
        sealing.create_master_key(path)
    return sealing.Keyring.load(path)


# --- the demo data -----------------------------------------------------------------------------------------------


async def load_demo(session: AsyncSession, base_dir: Path, *extra: Path) -> None:
    """The demo contracts, people and routes (plus ``extra`` files), with route folders under ``base_dir``."""
    await import_files(session, [*DEMO_FILES, *extra], base_dir=base_dir, plugins=BUILTIN_PLUGINS)


# --- the portal's world ------------------------------------------------------------------------------------------


@dataclass
class PortalWorld:
    keyring: sealing.Keyring
    packages: dict[str, Package] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # login -> TOTP secret
    accounts: dict[str, str] = field(default_factory=dict)  # login -> account public id (the accounts page)
    used_steps: dict[str, int] = field(default_factory=dict)

    def code(self, login: str) -> str:
        """A TOTP code the server has not seen for this account yet (codes are single-use)."""
        current = int(datetime.now(UTC).timestamp()) // totp.STEP_SECONDS
        step = max(current - 1, self.used_steps.get(login, 0) + 1)
        assert step <= current + 1, "too many logins of one account within a minute"
        self.used_steps[login] = step
        return pyotp.TOTP(self.secrets[login]).generate_otp(step)


PORTAL_CONTENT = bytes(range(256)) * 64  # what every package of the portal's world holds


async def portal_world(session: AsyncSession, store: Path, ring: sealing.Keyring) -> PortalWorld:
    """Contractor A (main contract) with sub-contractor B, contractor C, an expired contractor E, and a
    contractor N whose allowlist excludes the test client's address; one delivered package per contract."""
    world = PortalWorld(ring)
    ward = await add_party(session, "ward", PartyKind.WARD, ip_allowlist=[])
    a = await add_party(session, "a", PartyKind.CONTRACTOR, ip_allowlist=["127.0.0.0/8"])
    b = await add_party(session, "b", PartyKind.SUBCONTRACTOR, ip_allowlist=["127.0.0.1/32"])
    c = await add_party(session, "c", PartyKind.CONTRACTOR, ip_allowlist=["127.0.0.1"])
    e = await add_party(session, "e", PartyKind.CONTRACTOR, ip_allowlist=["::1/128", "127.0.0.1/32"])
    n = await add_party(session, "n", PartyKind.CONTRACTOR, ip_allowlist=["10.0.0.0/8"])
    welfare = await add_program(session, "p-welfare", "生活保護 追加給付", "生活福祉課")
    kaigo = await add_program(session, "p-kaigo", "介護保険料", "介護保険課")

    async def contract(code: str, party: Party, program: Program = welfare, **extra: Any) -> None:
        values: dict[str, Any] = {"channels": ["local"], "download_limit": 10, **extra}
        world.contracts[code] = await add_contract(session, code, party, program, **values)

    await contract("main", a)
    approval = {"approved_by": "課長", "approved_at": datetime(2020, 3, 1, tzinfo=UTC), "approval_ref": "見福第1号"}
    await contract("sub", b, parent_id=world.contracts["main"].id, **approval)
    await contract("other", c)
    await contract("expired", e, starts_on=date(2020, 4, 1), ends_on=date(2021, 3, 31))
    await contract("netdenied", n)
    await contract("kaigo", c, program=kaigo)

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
        person = world.people[code] = await add_person(session, code, party, role, section=section)
        if designation is not None:
            revoked = datetime.now(UTC) - timedelta(days=1) if code == "a-former" else None
            await designate(session, world.contracts[designation[0]], person, designation[1], revoked_at=revoked)
        account = await add_account(session, code, role, person)
        world.accounts[code] = account.public_id
        # Every role has a second factor: staff too, as the hub requires by default (C-10).
        world.secrets[code] = await add_totp(session, account, ring)
    admin = await add_account(session, "admin", PersonRole.ADMIN)
    world.accounts["admin"] = admin.public_id
    world.secrets["admin"] = await add_totp(session, admin, ring)

    for code in ("main", "sub", "other", "expired", "netdenied"):
        world.packages[code] = await add_package(
            session,
            world.contracts[code],
            delivered_at=datetime.now(UTC),
            store=store,
            data=PORTAL_CONTENT,
            zip_name=f"{code}_データ.zip",
            content={},
            sealed_password=None,
        )
    return world


# --- the registers' world ----------------------------------------------------------------------------------------


@dataclass
class RegisterWorld:
    ward: Party
    printer: Party
    callcentre: Party
    kaigo: Program
    aircon: Program
    print_contract: Contract  # S2: 介護保険料 納入通知書 printing
    call_contract: Contract  # S2: call centre of the same program
    aircon_contract: Contract  # S4
    staff: Person
    handler: Person

    @staticmethod
    async def deliver(
        session: AsyncSession, contract: Contract, file_name: str, delivered_at: datetime, records: int = 8500
    ) -> Package:
        """A package of one file of ``records`` records, delivered over SFTP (sizes as the registers print them)."""
        return await add_package(
            session,
            contract,
            delivered_at=delivered_at,
            connector="sftp",
            zip_name=f"{file_name.rsplit('.', 1)[0]}.zip",
            size=123_456,
            sha256="ab" * 32,
            content={"files": [{"name": file_name, "size": 654_321, "sha256": "cd" * 32, "records": records}]},
        )


async def register_world(session: AsyncSession) -> RegisterWorld:
    """A ward, two contractors, three contracts in FY2026 (dummy data)."""
    ward = await add_party(session, "ward", PartyKind.WARD, name="新宿区")
    printer = await add_party(session, "printer", PartyKind.CONTRACTOR, name="株式会社ダミー印刷")
    callcentre = await add_party(session, "callcentre", PartyKind.CONTRACTOR, name="テスト・コールセンター株式会社")
    kaigo = await add_program(session, "kaigo-hokenryo", "介護保険料通知", "介護保険課")
    aircon = await add_program(session, "aircon-josei", "エアコン購入費助成", "生活福祉課")
    fy2026 = {"starts_on": date(2026, 3, 1), "ends_on": date(2027, 3, 31)}
    world = RegisterWorld(
        ward=ward,
        printer=printer,
        callcentre=callcentre,
        kaigo=kaigo,
        aircon=aircon,
        print_contract=await add_contract(
            session, "S2-PRINT", printer, kaigo, name="介護保険料納入通知書印刷業務", **fy2026
        ),
        call_contract=await add_contract(
            session, "S2-CALL", callcentre, kaigo, name="介護保険料問合せ対応業務", **fy2026
        ),
        aircon_contract=await add_contract(
            session, "S4-CALL", callcentre, aircon, name="エアコン購入費助成受付業務", **fy2026
        ),
        staff=await add_person(session, "staff-1", ward, PersonRole.STAFF, name="区職員 一郎", section="介護保険課"),
        handler=await add_person(session, "handler-1", printer, PersonRole.HANDLER, name="印刷 花子"),
    )
    # The printer's handler is designated on the printing contract, so hand-overs to them pass the C-05 check.
    await designate(session, world.print_contract, world.handler, DesignationRole.HANDLER)
    return world


# --- contract facts for the policy rules --------------------------------------------------------------------------

S1_ITEMS = frozenset({"郵便番号", "住所", "氏名", "保護の種類及び程度", "対象期間", "保護決定理由", "振込先口座情報"})
S1_APPROVAL = SubcontractApproval("生活福祉課長", datetime(2026, 4, 1, 9), "福生第45号")
S1_CONTRACT = ContractFacts(
    public_id="K-2026-001",
    program_code="seikatsu-hogo-tsuika",
    start=date(2026, 3, 1),
    end=date(2027, 3, 31),
    allowed_items=S1_ITEMS,
    allowed_channels=frozenset({"lgwan-sftp", "portal", "dvd"}),
    connectors=(ConnectorFacts("lgwan-asp", "jp"),),
    password_delay=timedelta(hours=24),
)
S1_PRINTER = ContractFacts(
    public_id="K-2026-001-S1",
    program_code="seikatsu-hogo-tsuika",
    start=date(2026, 4, 1),
    end=date(2027, 3, 31),
    allowed_items=S1_ITEMS - {"振込先口座情報"},
    allowed_channels=frozenset({"lgwan-sftp", "dvd"}),
    connectors=(ConnectorFacts("lgwan-asp", "JP"),),
    parent=S1_CONTRACT,
    subcontract_approval=S1_APPROVAL,
)


# --- package files for the connectors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageFile:
    path: Path
    size: int
    sha256: str


def package_file(path: Path, payload: bytes, *, password: bytes = PACKAGE_PASSWORD, nbits: int = 256) -> PackageFile:
    """A WinZip AES ZIP as the hub's packer writes it (stored, so the size follows the payload)."""
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_STORED) as archive:
        archive.setpassword(password)
        archive.setencryption(pyzipper.WZ_AES, nbits=nbits)
        archive.writestr("data.csv", payload)
    data = path.read_bytes()
    return PackageFile(path, len(data), hashlib.sha256(data).hexdigest())


# --- issue 12 (occasion): a route target naming the password channels the ward allows ---------------------------


async def add_route_target(session: AsyncSession, contract: Contract, password_channels: list[str]) -> RouteTarget:
    """A route of the contract's program with one target, ``contract``, allowing ``password_channels``."""
    route = await _added(
        session,
        Route(
            code=f"route-{contract.code}-{'-'.join(password_channels) or 'none'}",
            name="テスト経路",
            program_id=contract.program_id,
            watch_dir="inbox/test",
            quarantine_dir="quarantine/test",
        ),
    )
    return await _added(
        session,
        RouteTarget(
            route_id=route.id, contract_id=contract.id, connector="outbox", password_channels=password_channels
        ),
    )


# --- issue 15 (key rotation): one of every secret the hub keeps sealed in the database ----------------------------


@dataclass(frozen=True)
class SealedValue:
    """A secret sealed in the database: its table, the public id its AAD names, and the plain value."""

    table: str
    owner: str
    plaintext: bytes


async def add_sealed_secrets(session: AsyncSession, keyring: sealing.Keyring, copies: int) -> list[SealedValue]:
    """``copies`` of each kind of sealed secret, each sealed the way the hub seals it: a package password, a
    confirmed and a pending TOTP secret, LGWAN-ASP login details, a return-folder ZIP's password."""
    made: list[SealedValue] = []
    ward = await add_party(session, "ward-keys", PartyKind.WARD)
    staff = await add_person(session, "staff-keys", ward, PersonRole.STAFF, section="生活福祉課")
    party = await add_party(session, "contractor-keys", PartyKind.CONTRACTOR)
    handler = await add_person(session, "handler-keys", party, PersonRole.HANDLER)
    program = await add_program(session, "p-keys", "鍵の試験", "生活福祉課")
    contract = await add_contract(session, "c-keys", party, program)
    folder = await _added(session, ReturnFolder(code="ret-keys", path="returns/keys", contract_id=contract.id))
    for n in range(copies):
        password = f"package-password-{n}".encode()
        package_id = new_public_id()
        sealed = sealing.seal(keyring.current, password, package_id.encode())
        await add_package(
            session,
            contract,
            delivered_at=None,
            public_id=package_id,
            sealed_password=sealed.to_bytes(),
            key_id=sealed.key_id,
        )
        made.append(SealedValue("packages", package_id, password))

        person = await add_person(session, f"handler-keys-{n}", party, PersonRole.HANDLER)
        account = await add_account(session, f"keys-{n}", PersonRole.HANDLER, person)
        secret = await add_totp(session, account, keyring)
        made.append(SealedValue("totp_factors", account.public_id, secret.encode()))
        pending = totp.new_secret()
        challenge = LoginChallenge(
            token_hash=hashlib.sha256(f"challenge-{n}".encode()).digest(),
            account_id=account.id,
            purpose="setup",
            csrf_token="csrf",
            pending_secret=totp.seal_secret(keyring, pending, account.public_id),
            source_ip="127.0.0.1",
        )
        await _added(session, challenge)
        made.append(SealedValue("login_challenges", account.public_id, pending.encode()))

        received = asp_credentials.Received(
            f"asp-{n}",
            "LGWAN-ASP 事業者",
            "https://asp.example.lg.jp/",
            f"login-{n}",
            f"asp-password-{n}",
            "手渡し",
            datetime(2026, 4, 1, tzinfo=UTC),
        )
        credential = await asp_credentials.record_received(
            session, keyring, received, staff_code=staff.code, now=datetime(2026, 4, 2, tzinfo=UTC)
        )
        made.append(SealedValue("provider_credentials", credential.public_id, received.password.encode()))

        upload = await _added(
            session,
            InboundFile(
                contract_id=contract.id,
                person_id=handler.id,
                kind="entered_data",
                file_name=f"returned-{n}.csv",
                blob_key=f"uploads/returned-{n}",
                size=10,
                sha256="0" * 64,
            ),
        )
        delivery_id, zip_password = new_public_id(), f"return-password-{n}".encode()
        sealed = sealing.seal(keyring.current, zip_password, return_folders.password_aad(delivery_id))
        await _added(
            session,
            ReturnDelivery(
                public_id=delivery_id,
                inbound_file_id=upload.id,
                return_folder_id=folder.id,
                zip_name=f"returned-{n}.zip",
                path=f"returns/keys/returned-{n}.zip",
                size=10,
                sha256="0" * 64,
                sealed_password=sealed.to_bytes(),
                key_id=sealed.key_id,
            ),
        )
        made.append(SealedValue("return_deliveries", delivery_id, zip_password))
    return made
