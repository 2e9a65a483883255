"""Forbidden categories (C-07) in the dropped file's path: the import refuses an unapproved forbidden item, an
approval lets exactly its items through and the register names it, and a route that screens values quarantines
a forbidden word in a cell. Real hub, both databases."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from exchange.admin import bootstrap, sensitive_approvals
from exchange.admin.data_import import ImportError_
from exchange.cli import main
from exchange.hub import HubServices, services
from ledger.models import IntakeStatus, LedgerEntry, PackageStatus
from policies.dummy import write_dummy_csv
from policies.plugins import aircon_josei as s4
from tests.exchange.helpers import hub_settings, intakes, packages, process, route_dir
from tests.factories import contract_by_code, load_demo

_ITEMS = ", ".join(f'"{item}"' for item in s4.CONTRACTOR_ITEMS)


def _world(items: str, approvals: str = "", scan_values: bool = False) -> str:
    return f"""
[[contracts]]
code = "s4-faith"
name = "エアコン購入費助成 調査業務委託"
program = "aircon-josei"
party = "callcenter-c"
starts_on = 2026-11-01
ends_on = 2027-03-31
channels = ["local"]
allowed_items = [{items}]
{approvals}

[[routes]]
code = "s4-faith-route"
name = "エアコン購入費助成 調査データ"
program = "aircon-josei"
watch_dir = "inbox/調査"
scan_values = {"true" if scan_values else "false"}
targets = [{{ contract = "s4-faith", connector = "outbox" }}]
"""


APPROVAL = """
[[contracts.sensitive_approvals]]
ref = "地福第77号"
approver = "地域福祉課長 区役 花子"
on = 2026-10-20
items = ["信仰する宗教"]
"""


async def _import(hub: HubServices, text: str) -> None:
    extra = hub.settings.data_dir / "extra.toml"
    await asyncio.to_thread(extra.write_text, text, encoding="utf-8")
    async with hub.sessions.begin() as session:
        await load_demo(session, hub.settings.data_dir.resolve(), extra)


@pytest.fixture
async def hub(tmp_path: Path, db_url: str) -> AsyncIterator[HubServices]:
    settings = hub_settings(tmp_path, db_url)
    await bootstrap.initialise(settings)
    async with services(settings) as running:
        yield running


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


async def _drop(hub: HubServices, tmp_path: Path, name: str, extra: dict[str, str], edit: int | None = None) -> Path:
    """Three dummy S4 applicants plus the ``extra`` columns (constant values), into the route's folder."""
    source = tmp_path / f"dummy-{name}"
    await asyncio.to_thread(write_dummy_csv, s4.PROGRAM, 3, source, seed=11)
    text = await asyncio.to_thread(source.read_text, encoding="utf-8-sig")
    header, *rows = list(csv.reader(text.splitlines()))
    header += list(extra)
    rows = [[*row, *extra.values()] for row in rows]
    if edit is not None:
        rows[edit][header.index("世帯構成")] = "前科あり（備考に記載）"
    folder = await route_dir(hub, "s4-faith-route")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_write, folder / name, header, rows)
    return folder


async def test_import_refuses_an_unapproved_forbidden_item_and_points_to_a_way(hub: HubServices) -> None:
    with pytest.raises(ImportError_) as refused:
        await _import(hub, _world(_ITEMS + ', "信仰する宗教"'))
    message = "\n".join(refused.value.problems)
    assert "「信仰する宗教」（思想・信条・宗教: 宗教）" in message
    assert "handover sensitive approve" in message and "sensitive_approvals" in message
    # The ways it names exist: the command and the staff form (tests/exchange/web/test_sensitive_approvals.py).
    assert "approve" in main.commands["sensitive"].commands  # type: ignore[attr-defined]


async def test_an_approval_lets_its_item_through_and_the_register_names_it(hub: HubServices, tmp_path: Path) -> None:
    await _import(hub, _world(_ITEMS + ', "信仰する宗教"', APPROVAL))
    await _import(hub, _world(_ITEMS + ', "信仰する宗教"', APPROVAL))  # again: the approval is recorded once
    async with hub.sessions() as session:
        contract = await contract_by_code(session, "s4-faith")
        [approval] = await sensitive_approvals.approvals_of(session, contract)
        assert approval.items == ["信仰する宗教"] and approval.approved_on == date(2026, 10, 20)
        assert approval.recorded_by == "取込みファイル extra.toml"
    await _drop(hub, tmp_path, "調査.csv", {"信仰する宗教": "（回答なし）"})
    await process(hub)
    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED
    assert "信仰する宗教" in package.content["columns"]
    assert package.content["approved_sensitive"] == {"信仰する宗教": "地福第77号"}
    async with hub.sessions() as session:
        entries = (await session.execute(select(LedgerEntry).order_by(LedgerEntry.idx))).scalars().all()
    kinds = [e.kind for e in entries]
    assert kinds.count("sensitive.approved") == 1
    sealed = [e for e in entries if e.kind == "package.sealed"]
    sealed_line = json.dumps(json.loads(sealed[0].entry), ensure_ascii=False)
    assert "承諾による要配慮項目: 信仰する宗教〔地福第77号〕" in sealed_line


async def test_values_are_screened_only_on_a_route_that_asks(hub: HubServices, tmp_path: Path) -> None:
    await _import(hub, _world(_ITEMS, scan_values=True))
    folder = await _drop(hub, tmp_path, "値.csv", {}, edit=1)
    await process(hub)
    [intake] = [i for i in await intakes(hub) if i.file_name == "値.csv"]
    assert intake.status == IntakeStatus.QUARANTINED
    assert "2件目のデータの値に" in (intake.reason_ja or "") and "「世帯構成」" in (intake.reason_ja or "")
    assert await packages(hub) == []
    result = await asyncio.to_thread((folder / "値.csv.result.txt").read_text, encoding="utf-8")
    assert "世帯構成" in result

    await _import(hub, _world(_ITEMS, scan_values=False))  # the ward turns value screening off for the route
    await _drop(hub, tmp_path, "値2.csv", {}, edit=1)
    await process(hub)
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED]
