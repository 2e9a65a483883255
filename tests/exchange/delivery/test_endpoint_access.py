"""Box collaborations follow designations: granted at delivery, removed when undesignated or the contract ends."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.delivery.endpoint_access import sync_access
from ledger.db import session_factory
from ledger.models import Contract, Designation, Person
from ledger.models.base import utcnow
from tests.boxemu import BoxEmulator
from tests.factories import load_demo
from tests.services.box import connector_for


def collaborators(emulator: BoxEmulator) -> set[str]:
    return {c.login for c in emulator.state.collaborations.values()}


async def test_designations_drive_box_collaborations(
    db_engine: AsyncEngine, box_emulator: BoxEmulator, tmp_path: Path
) -> None:
    maker = session_factory(db_engine)
    async with maker.begin() as session:
        await load_demo(session, tmp_path)
    box = connector_for(box_emulator)
    try:
        async with maker.begin() as session:
            contract = (await session.execute(select(Contract).where(Contract.code == "s4-main"))).scalar_one()
            await sync_access(session, {"outbox": box}, contract)
        assert collaborators(box_emulator) == {"manager@callcenter-c.example", "handler@callcenter-c.example"}

        async with maker.begin() as session:
            handler = (await session.execute(select(Person).where(Person.code == "c-handler"))).scalar_one()
            row = (await session.execute(select(Designation).where(Designation.person_id == handler.id))).scalar_one()
            row.revoked_at = utcnow()
            await sync_access(session, {"outbox": box}, contract)
        assert collaborators(box_emulator) == {"manager@callcenter-c.example"}

        async with maker.begin() as session:
            await sync_access(session, {"outbox": box}, contract, contract_ended=True)
        assert collaborators(box_emulator) == set()
    finally:
        await box.close()
