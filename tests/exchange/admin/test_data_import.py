from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin.data_import import ImportError_, ImportSummary, import_files
from exchange.admin.routes_view import list_routes
from ledger.models import Contract, Designation, Party, Person, Route
from tests.factories import DEMO_DIR, DEMO_FILES


async def load(session: AsyncSession, tmp_path: Path, files: list[Path] = DEMO_FILES) -> ImportSummary:
    async with session.begin():
        return await import_files(session, files, base_dir=tmp_path)


async def count(session: AsyncSession, model: type) -> int:
    async with session.begin():
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_demo_import_is_idempotent(db_session: AsyncSession, tmp_path: Path) -> None:
    first = await load(db_session, tmp_path)
    assert first.created["contracts"] == 5
    counts = [await count(db_session, m) for m in (Party, Person, Contract, Route, Designation)]
    second = await load(db_session, tmp_path)
    assert second.created == {}
    assert second.updated["contracts"] == 5
    assert [await count(db_session, m) for m in (Party, Person, Contract, Route, Designation)] == counts


async def test_routes_have_absolute_folders_and_recipients(db_session: AsyncSession, tmp_path: Path) -> None:
    await load(db_session, tmp_path)
    async with db_session.begin():
        routes = {r.code: r for r in await list_routes(db_session)}
    printer = routes["s1-to-printer"]
    assert Path(printer.watch_dir).is_absolute()
    assert printer.watch_dir == str(tmp_path / "inbox" / "生活保護追加給付" / "再委託先_印刷")
    assert {p.name for p in printer.targets[0].recipients} == {"印刷 三子", "印刷 四郎"}


async def test_sub_contract_keeps_its_approval(db_session: AsyncSession, tmp_path: Path) -> None:
    await load(db_session, tmp_path)
    async with db_session.begin():
        sub = (await db_session.execute(select(Contract).where(Contract.code == "s1-print"))).scalar_one()
        assert sub.parent_id is not None
        assert sub.approval_ref == "見福第1234号"
        assert "振込先口座情報" not in sub.allowed_items


async def test_dropping_a_designation_undesignates(db_session: AsyncSession, tmp_path: Path) -> None:
    await load(db_session, tmp_path)
    changed = tmp_path / "s2.toml"
    text = (DEMO_DIR / "s2_kaigo_hokenryo.toml").read_text(encoding="utf-8")
    changed.write_text(text.replace('designations = [{ person = "asp-handler", role = "handler" }]', ""), "utf-8")
    await load(db_session, tmp_path, [changed])
    async with db_session.begin():
        row = (
            await db_session.execute(select(Designation).join(Contract).where(Contract.code == "s2-print"))
        ).scalar_one()
        assert row.revoked_at is not None


async def test_errors_name_file_entry_and_field_and_write_nothing(db_session: AsyncSession, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[parties]]\ncode = "x"\nname = "X社"\nkind = "vendor"\n\n'
        '[[programs]]\ncode = "p"\nname = "P"\nsectoin = "s"\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        await load(db_session, tmp_path, [bad])
    problems = info.value.problems
    assert any(p.startswith(f"{bad}: parties 'x': kind:") for p in problems)
    assert f"{bad}: programs 'p': sectoin: unknown field" in problems
    assert await count(db_session, Party) == 0


async def test_unknown_reference_rolls_back_everything(db_session: AsyncSession, tmp_path: Path) -> None:
    bad = tmp_path / "ref.toml"
    bad.write_text(
        '[[parties]]\ncode = "x"\nname = "X社"\nkind = "contractor"\n\n'
        '[[people]]\ncode = "p1"\nparty = "nobody"\nname = "N"\nrole = "handler"\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        await load(db_session, tmp_path, [bad])
    assert info.value.problems == [f"{bad}: people 'p1': party: refers to unknown parties 'nobody'"]
    assert await count(db_session, Party) == 0
