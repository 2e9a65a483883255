"""Read-only view of routes with their recipients, for ``handover routes list`` and the portal."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exchange.folders import resolve_folder
from ledger.models import Contract, Designation, Route, RouteTarget


@dataclass(frozen=True)
class RecipientView:
    person_id: str
    name: str
    role: str


@dataclass(frozen=True)
class TargetView:
    contract_id: str
    contract_code: str
    contract_name: str
    party_name: str
    connector: str
    fallback_connector: str | None
    password_channels: list[str]
    recipients: list[RecipientView]
    items: list[str]  # what the recipient receives: the contract's items, a plugin's defaults when it listed none


@dataclass(frozen=True)
class RouteView:
    id: str
    code: str
    name: str
    program: str
    watch_dir: str  # resolved: a folder kept relative is shown under this hub's data directory
    quarantine_dir: str
    scan_values: bool  # C-07: cell values are screened for forbidden categories, not only column names
    targets: list[TargetView]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def list_routes(session: AsyncSession, data_dir: Path) -> list[RouteView]:
    """Every route, its folders resolved against ``data_dir`` (absolute)."""
    routes = (
        await session.execute(
            select(Route)
            .options(
                selectinload(Route.program),
                selectinload(Route.targets)
                .selectinload(RouteTarget.contract)
                .options(
                    selectinload(Contract.party),
                    selectinload(Contract.designations).selectinload(Designation.person),
                ),
            )
            .order_by(Route.code)
        )
    ).scalars()
    return [
        RouteView(
            id=route.public_id,
            code=route.code,
            name=route.name,
            program=route.program.code,
            watch_dir=str(resolve_folder(route.watch_dir, data_dir)),
            quarantine_dir=str(resolve_folder(route.quarantine_dir, data_dir)),
            scan_values=route.scan_values,
            targets=[
                TargetView(
                    contract_id=t.contract.public_id,
                    contract_code=t.contract.code,
                    contract_name=t.contract.name,
                    party_name=t.contract.party.name,
                    connector=t.connector,
                    fallback_connector=t.fallback_connector,
                    password_channels=list(t.password_channels),
                    recipients=[
                        RecipientView(d.person.public_id, d.person.name, d.role.value)
                        for d in t.contract.designations
                        if d.revoked_at is None
                    ],
                    items=list(t.contract.allowed_items),
                )
                for t in route.targets
            ],
        )
        for route in routes
    ]
