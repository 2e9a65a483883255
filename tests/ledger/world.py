"""Shared fixtures for the register and report tests: a ward, two contractors, three contracts (dummy data)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import time_machine
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.contracts import Contract, Program
from ledger.models.packages import Package, PackageStatus
from ledger.models.parties import Party, PartyKind, Person, PersonRole


@dataclass
class World:
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


def _contract(code: str, name: str, program: Program, party: Party) -> Contract:
    return Contract(
        code=code,
        name=name,
        program=program,
        party=party,
        starts_on=date(2026, 3, 1),
        ends_on=date(2027, 3, 31),
    )


async def make_world(session: AsyncSession) -> World:
    ward = Party(code="ward", name="新宿区", kind=PartyKind.WARD)
    printer = Party(code="printer", name="株式会社ダミー印刷", kind=PartyKind.CONTRACTOR)
    callcentre = Party(code="callcentre", name="テスト・コールセンター株式会社", kind=PartyKind.CONTRACTOR)
    kaigo = Program(code="kaigo-hokenryo", name="介護保険料通知", section="介護保険課")
    aircon = Program(code="aircon-josei", name="エアコン購入費助成", section="生活福祉課")
    world = World(
        ward=ward,
        printer=printer,
        callcentre=callcentre,
        kaigo=kaigo,
        aircon=aircon,
        print_contract=_contract("S2-PRINT", "介護保険料納入通知書印刷業務", kaigo, printer),
        call_contract=_contract("S2-CALL", "介護保険料問合せ対応業務", kaigo, callcentre),
        aircon_contract=_contract("S4-CALL", "エアコン購入費助成受付業務", aircon, callcentre),
        staff=Person(code="staff-1", party=ward, name="区職員 一郎", role=PersonRole.STAFF),
        handler=Person(code="handler-1", party=printer, name="印刷 花子", role=PersonRole.HANDLER),
    )
    session.add_all([world.print_contract, world.call_contract, world.aircon_contract, world.staff, world.handler])
    await session.flush()
    return world


async def delivered_package(
    session: AsyncSession, contract: Contract, file_name: str, delivered_at: datetime, records: int = 8500
) -> Package:
    package = Package(
        contract_id=contract.id,
        status=PackageStatus.DELIVERED,
        zip_name=f"{file_name.rsplit('.', 1)[0]}.zip",
        store_path=f"/var/store/{file_name}.zip",
        size=123_456,
        sha256="ab" * 32,
        content={"files": [{"name": file_name, "size": 654_321, "sha256": "cd" * 32, "records": records}]},
        key_id="k1",
        connector="sftp",
        delivered_via="sftp",
        delivered_at=delivered_at,
    )
    package.contract = contract
    session.add(package)
    await session.flush()
    return package


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """Stand still at ``moment``: register lines take their time from the clock (``record`` has no ``at``)."""
    with time_machine.travel(moment.astimezone(UTC), tick=False):
        yield
