"""``[[return_folders]]`` in the import TOML: one folder per contract or per section, a path resolved against the
data directory, password channels that never include the folder itself; anything else is refused with its place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin.data_import import ImportError_, import_files
from exchange.inbound.return_folders import folder_for
from ledger.models import Contract
from ledger.models.return_folders import ReturnFolder
from tests.factories import BUILTIN_PLUGINS, DEMO_FILES

FOLDERS = """
[[return_folders]]
code = "ret-welfare"
section = "生活福祉課"
path = "returns/welfare"

[[return_folders]]
code = "ret-s1-print"
contract = "s1-print"
path = "/srv/intranet/returns/s1-print"
password_channels = ["notice"]
"""


async def _import(session: AsyncSession, tmp_path: Path, text: str) -> None:
    extra = tmp_path / "folders.toml"
    await asyncio.to_thread(extra.write_text, text, encoding="utf-8")
    async with session.begin():
        await import_files(session, [*DEMO_FILES, extra], base_dir=tmp_path, plugins=BUILTIN_PLUGINS)


async def test_a_contract_folder_wins_over_its_section_folder(db_session: AsyncSession, tmp_path: Path) -> None:
    await _import(db_session, tmp_path, FOLDERS)
    await _import(db_session, tmp_path, FOLDERS)  # idempotent: keyed by code
    async with db_session.begin():
        folders = {f.code: f for f in (await db_session.execute(select(ReturnFolder))).scalars()}
        contracts = {c.code: c for c in (await db_session.execute(select(Contract))).scalars()}
        main = await folder_for(db_session, contracts["s1-main"])
        printer = await folder_for(db_session, contracts["s1-print"])
    assert set(folders) == {"ret-welfare", "ret-s1-print"}
    assert folders["ret-welfare"].path == "returns/welfare"  # kept relative to the data directory (C-13)
    assert folders["ret-welfare"].password_channels == ["portal", "notice"]
    assert main is not None and main.code == "ret-welfare"
    assert printer is not None and printer.code == "ret-s1-print" and printer.password_channels == ["notice"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('code = "x"\npath = "r"\n', "どちらか一方"),
        ('code = "x"\npath = "r"\nsection = "生活福祉課"\ncontract = "s1-main"\n', "どちらか一方"),
        ('code = "x"\npath = "r"\ncontract = "nope"\n', "unknown contracts 'nope'"),
        ('code = "x"\npath = "r"\nsection = "生活福祉課"\npassword_channels = ["email"]\n', "password_channels"),
    ],
)
async def test_a_folder_must_name_one_owner_and_allowed_channels(
    db_session: AsyncSession, tmp_path: Path, entry: str, expected: str
) -> None:
    with pytest.raises(ImportError_) as info:
        await _import(db_session, tmp_path, f"[[return_folders]]\n{entry}")
    assert expected in str(info.value)
    async with db_session.begin():
        assert (await db_session.execute(select(ReturnFolder))).scalars().all() == []
