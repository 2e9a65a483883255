"""Migration 0024 on both databases: folders under the data directory become relative, the others stay absolute,
and the downgrade makes them absolute again (C-13: a restored hub must not watch the original's folders)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.migrate import downgrade, upgrade

BEFORE = "0017_return_folders"
programs = sa.table(
    "programs",
    sa.column("id", sa.Integer()),
    sa.column("public_id", sa.String()),
    sa.column("code", sa.String()),
    sa.column("name", sa.String()),
    sa.column("section", sa.String()),
)
routes = sa.table(
    "routes",
    sa.column("id", sa.Integer()),
    sa.column("public_id", sa.String()),
    sa.column("code", sa.String()),
    sa.column("name", sa.String()),
    sa.column("program_id", sa.Integer()),
    sa.column("watch_dir", sa.String()),
    sa.column("quarantine_dir", sa.String()),
    sa.column("processed_dir", sa.String()),
    sa.column("force_polling", sa.Boolean()),
    sa.column("allowed_file_types", sa.JSON()),
)
return_folders = sa.table(
    "return_folders",
    sa.column("id", sa.Integer()),
    sa.column("public_id", sa.String()),
    sa.column("code", sa.String()),
    sa.column("path", sa.String()),
    sa.column("section", sa.String()),
    sa.column("password_channels", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def _folders(engine: AsyncEngine) -> tuple[tuple[object, ...], str]:
    async with engine.connect() as conn:
        route = (
            await conn.execute(sa.select(routes.c.watch_dir, routes.c.quarantine_dir, routes.c.processed_dir))
        ).one()
        path = (await conn.execute(sa.select(return_folders.c.path))).scalar_one()
    return tuple(route), path


@pytest.mark.allow_blocking("Alembic runs each revision through run_sync by design (migrations run before serving)")
async def test_folders_under_the_data_directory_become_relative(db_engine: AsyncEngine, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    await downgrade(db_engine, BEFORE)
    async with db_engine.begin() as conn:
        await conn.execute(sa.insert(programs).values(id=1, public_id="p1", code="p", name="p", section="s"))
        await conn.execute(
            sa.insert(routes).values(
                id=1,
                public_id="r1",
                code="r",
                name="r",
                program_id=1,
                watch_dir=str(data_dir / "inbox" / "委託先"),
                quarantine_dir=str(data_dir / "inbox" / "委託先.quarantine"),
                processed_dir="/srv/share/processed",
                force_polling=False,
                allowed_file_types=["csv"],
            )
        )
        await conn.execute(
            sa.insert(return_folders).values(
                id=1,
                public_id="f1",
                code="f",
                path=str(data_dir / "returns"),
                section="s",
                password_channels=["portal"],
                created_at=datetime.now(UTC),
            )
        )
    await upgrade(db_engine, data_dir=data_dir)
    assert await _folders(db_engine) == (
        ("inbox/委託先", "inbox/委託先.quarantine", "/srv/share/processed"),
        "returns",
    )
    async with db_engine.begin() as conn:
        await conn.run_sync(lambda sync: _downgrade_with(sync, data_dir))
    assert await _folders(db_engine) == (
        (str(data_dir / "inbox" / "委託先"), str(data_dir / "inbox" / "委託先.quarantine"), "/srv/share/processed"),
        str(data_dir / "returns"),
    )


def _downgrade_with(sync: sa.Connection, data_dir: Path) -> None:
    from alembic import command

    from ledger.migrate import alembic_config

    command.downgrade(alembic_config(sync, data_dir), BEFORE)
