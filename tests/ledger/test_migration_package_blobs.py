"""Migration 0018: a package recorded with a host's absolute path comes out named by its blob key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.db import session_factory
from ledger.migrate import downgrade, upgrade
from ledger.models.packages import Package
from tests.factories import add_package, load_demo

_OLD_PACKAGES = sa.table("packages", sa.column("public_id", sa.String()), sa.column("store_path", sa.String()))


async def _columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns("packages"))
    return {column["name"] for column in columns}


@pytest.mark.allow_blocking("Alembic runs a whole revision through run_sync by design")
async def test_existing_packages_get_their_key_and_lose_the_host_path(db_engine: AsyncEngine, tmp_path: Path) -> None:
    maker = session_factory(db_engine)
    async with maker.begin() as session:
        await load_demo(session, tmp_path)
        public_id = (await add_package(session, "s1-main", delivered_at=datetime.now(UTC))).public_id
    await downgrade(db_engine, "0017_return_folders")
    assert "store_path" in await _columns(db_engine) and "blob_key" not in await _columns(db_engine)
    async with db_engine.begin() as conn:
        old_path = f"/srv/handover/var/store/intake/claim-1/{public_id}.zip"
        await conn.execute(sa.update(_OLD_PACKAGES).values(store_path=old_path))

    await upgrade(db_engine)
    assert "store_path" not in await _columns(db_engine), "no host's path stays in the database"
    async with maker() as session:
        package = (await session.execute(sa.select(Package).where(Package.public_id == public_id))).scalar_one()
    assert package.blob_key == f"packages/{public_id}.zip"
