from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin.data_import import ImportError_, ImportSummary, import_files
from exchange.admin.routes_view import list_routes
from exchange.inbound.rules import MIB, rules_for
from ledger.models import Contract, Designation, Party, Person, Route
from policies.plugins import aircon_josei
from tests.factories import BUILTIN_PLUGINS, DEMO_DIR, DEMO_FILES


async def load(session: AsyncSession, tmp_path: Path, files: list[Path] = DEMO_FILES) -> ImportSummary:
    async with session.begin():
        return await import_files(session, files, base_dir=tmp_path, plugins=BUILTIN_PLUGINS)


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


async def test_route_folders_are_kept_relative_and_shown_resolved(db_session: AsyncSession, tmp_path: Path) -> None:
    await load(db_session, tmp_path)
    async with db_session.begin():
        stored = (await db_session.execute(select(Route).where(Route.code == "s1-to-printer"))).scalar_one()
        routes = {r.code: r for r in await list_routes(db_session, tmp_path)}
    # Kept relative to the data directory, so a restored copy of the hub watches its own folders (C-13).
    assert stored.watch_dir == "inbox/生活保護追加給付/再委託先_印刷"
    printer = routes["s1-to-printer"]
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


async def test_a_password_delay_of_zero_needs_its_recorded_reason(db_session: AsyncSession, tmp_path: Path) -> None:
    """C-02: no wait between data and password only as the ward's written choice, never by a typo."""
    s1 = DEMO_DIR / "s1_seikatsu_hogo.toml"
    text = s1.read_text(encoding="utf-8")
    assert "password_delay_hours = 24\n" in text
    changed = tmp_path / s1.name
    changed.write_text(text.replace("password_delay_hours = 24\n", "password_delay_hours = 0\n", 1), "utf-8")
    files = [changed if f == s1 else f for f in DEMO_FILES]
    with pytest.raises(ImportError_) as info:
        await load(db_session, tmp_path, files)
    assert any("password_delay_zero_reason" in p and "理由" in p for p in info.value.problems)
    assert await count(db_session, Contract) == 0
    why = "課長決裁 見福第99号: 窓口で本人確認後に即時交付"
    reason = f'password_delay_hours = 0\npassword_delay_zero_reason = "{why}"\n'
    changed.write_text(text.replace("password_delay_hours = 24\n", reason, 1), "utf-8")
    await load(db_session, tmp_path, files)
    async with db_session.begin():
        zero = (await db_session.execute(select(Contract).where(Contract.password_delay_hours == 0))).scalar_one()
        assert zero.password_delay_zero_reason == why


DEFAULTED = """
[[programs]]
code = "no-plugin"
name = "プラグインのない業務"
section = "地域福祉課"

[[contracts]]
code = "s4-late"
name = "エアコン購入費助成事業（下期）"
program = "aircon-josei"
party = "callcenter-c"
starts_on = 2026-11-01
ends_on = 2027-03-31

[[contracts]]
code = "s4-late-visit"
name = "訪問調査（下期・再委託）"
program = "aircon-josei"
party = "visit-d"
parent = "s4-late"
starts_on = 2026-11-01
ends_on = 2027-03-31

[[routes]]
code = "s4-late"
name = "エアコン購入費助成（下期）"
program = "aircon-josei"
watch_dir = "inbox/下期"
targets = [{ contract = "s4-late", connector = "outbox" }, { contract = "s4-late-visit", connector = "outbox" }]
"""


async def test_a_contract_without_items_gets_the_plugin_defaults_visibly(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    extra = tmp_path / "late.toml"
    extra.write_text(DEFAULTED, encoding="utf-8")
    summary = await load(db_session, tmp_path, [*DEMO_FILES, extra])
    async with db_session.begin():
        late = (await db_session.execute(select(Contract).where(Contract.code == "s4-late"))).scalar_one()
        assert late.allowed_items == list(aircon_josei.CONTRACTOR_ITEMS)
        route = {r.code: r for r in await list_routes(db_session, tmp_path)}["s4-late"]
    assert [t.items for t in route.targets] == [
        list(aircon_josei.CONTRACTOR_ITEMS),
        list(aircon_josei.SUBCONTRACTOR_ITEMS),  # the sub-contractor's role, within its parent's items
    ]
    assert len(summary.notes) == 2
    assert "'s4-late'" in summary.notes[0]
    assert "既定の提供項目" in summary.notes[0]
    assert "、".join(aircon_josei.CONTRACTOR_ITEMS) in summary.notes[0]
    assert not (await load(db_session, tmp_path)).notes  # contracts that list their items: nothing to report


async def test_a_contract_without_items_and_no_plugin_default_is_refused(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    extra = tmp_path / "late.toml"
    extra.write_text(
        DEFAULTED.replace(
            'program = "aircon-josei"\nparty = "callcenter-c"', 'program = "no-plugin"\nparty = "callcenter-c"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ImportError_) as info:
        await load(db_session, tmp_path, [*DEMO_FILES, extra])
    assert any(
        p.startswith(f"{extra}: contracts 's4-late': allowed_items:") and "既定" in p for p in info.value.problems
    )
    assert await count(db_session, Contract) == 0


async def test_a_contracts_upload_rules_are_imported_and_unknown_suffixes_refused(
    db_session: AsyncSession, tmp_path: Path
) -> None:
    await load(db_session, tmp_path)
    async with db_session.begin():
        main = (await db_session.execute(select(Contract).where(Contract.code == "s1-main"))).scalar_one()
        printer = (await db_session.execute(select(Contract).where(Contract.code == "s1-print"))).scalar_one()
        rules = rules_for(main, 200 * MIB)
        assert list(rules.suffixes) == ["entered_data", "evidence_scan", "payment_data", "deletion_certificate"]
        assert ".tif" in rules.suffixes["evidence_scan"] and rules.limit == 50 * MIB
        assert rules_for(printer, 200 * MIB).suffixes == {
            "print_log": frozenset({".csv", ".xlsx", ".tsv", ".txt"}),
            "deletion_certificate": frozenset({".pdf"}),
        }
    s1 = DEMO_DIR / "s1_seikatsu_hogo.toml"
    changed = tmp_path / s1.name
    text = s1.read_text(encoding="utf-8")
    changed.write_text(text.replace('deletion_certificate = ["pdf"]', 'deletion_certificate = ["exe"]'), "utf-8")
    with pytest.raises(ImportError_) as info:
        await load(db_session, tmp_path, [changed if f == s1 else f for f in DEMO_FILES])
    assert any("uploads.suffixes.deletion_certificate" in p and ".exe" in p for p in info.value.problems)
