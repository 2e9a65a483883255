"""Migration 0019 carries existing rows from paths to blob keys: sealed uploads, quarantined drops and inspection
attachments get the keys the hub now reads, an upload from before sealing keeps its plain file's path (for
``handover db move-sealed-files``), and a downgrade gives uploads their old relative paths back."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.db import session_factory
from ledger.migrate import downgrade, upgrade
from ledger.models import IntakeFile, IntakeStatus
from ledger.models.inbound import InboundFile
from ledger.models.oversight import Inspection
from ledger.models.parties import PartyKind, PersonRole
from tests.factories import add_contract, add_party, add_person, add_program, add_route_target

SHA = "ab" * 32


@pytest.mark.allow_blocking("Alembic runs a whole revision through run_sync by design (as in test_migrations.py)")
async def test_rows_move_from_paths_to_keys(db_engine: AsyncEngine) -> None:
    maker = session_factory(db_engine)
    async with maker.begin() as session:
        party = await add_party(session, "c1", PartyKind.CONTRACTOR)
        program = await add_program(session, "s1", "生活保護", "保護課")
        contract = await add_contract(session, "c1-main", party, program)
        person = await add_person(session, "c1-handler", party, PersonRole.HANDLER)
        target = await add_route_target(session, contract, [])
        common = {"contract_id": contract.id, "person_id": person.id, "kind": "entered_data", "size": 1, "sha256": SHA}
        sealed = InboundFile(file_name="a.csv", blob_key="x", sealed=True, **common)
        plain = InboundFile(file_name="b.csv", blob_key="/srv/old/b.csv", sealed=False, **common)
        drop = IntakeFile(route_id=target.route_id, source_path="/in/x.csv", file_name="x.csv", size=1)
        drop.status, drop.sealed_key = IntakeStatus.QUARANTINED, "x"
        inspection = Inspection(contract_id=contract.id, fiscal_year=2026, due_on=date(2027, 3, 31))
        inspection.attachment_key, inspection.attachment_sha256 = "x", SHA
        session.add_all([sealed, plain, drop, inspection])
    await downgrade(db_engine, "0017_return_folders")
    # What the older hub wrote: paths under its data directory.
    intakes = sa.table("intake_files", sa.column("id"), sa.column("sealed_path"))
    inspections = sa.table("inspections", sa.column("id"), sa.column("attachment_path"))
    uploads = sa.table("inbound_files", sa.column("id"), sa.column("stored_path"))
    async with db_engine.begin() as connection:
        restored = dict((await connection.execute(sa.select(uploads.c.id, uploads.c.stored_path))).all())
        assert restored[sealed.id] == f"inbound/{contract.public_id}/{sealed.public_id}.sealed"
        assert restored[plain.id] == "/srv/old/b.csv"
        path = f"/srv/var/quarantine/{drop.public_id}.sealed"
        await connection.execute(intakes.update().where(intakes.c.id == drop.id).values(sealed_path=path))
        path = f"/srv/var/inspections/{inspection.public_id}/{SHA[:16]}.sealed"
        await connection.execute(inspections.update().values(attachment_path=path))
    await upgrade(db_engine)
    async with maker() as session:
        rows = {row.id: row for row in (await session.execute(sa.select(InboundFile))).scalars()}
        moved_drop = await session.get(IntakeFile, drop.id)
        moved_inspection = await session.get(Inspection, inspection.id)
    assert rows[sealed.id].blob_key == f"uploads/{sealed.public_id}"
    assert rows[plain.id].blob_key == "/srv/old/b.csv" and not rows[plain.id].sealed
    assert moved_drop is not None and moved_drop.sealed_key == f"quarantine/{drop.public_id}"
    assert moved_inspection is not None
    assert moved_inspection.attachment_key == f"attachments/{inspection.public_id}/{SHA[:16]}"
