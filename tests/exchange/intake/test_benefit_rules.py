"""Benefit plugins in the dropped file's path: S4's grant computed and capped, S2's grade and premium checked.

Each file goes through the real hub (watched folder, checks, minimisation, packing, delivery) on both
databases; a refusal must reach the ward as the quarantine reason and the result file, naming row and value.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from exchange.admin import bootstrap
from exchange.hub import HubServices, services
from ledger.models import IntakeStatus, PackageStatus
from policies.dummy import write_dummy_csv
from policies.plugins import aircon_josei as s4
from policies.plugins import kaigo_hokenryo as s2
from tests.exchange.helpers import hub_settings, intakes, packages, process, route_dir, seven_zip_extract
from tests.exchange.intake.test_pipeline import password_of
from tests.factories import load_demo

# A live S4 contract that lists no items (the plugin's defaults apply) and a route that computes 交付額 from the
# cost columns of the ward's extract, which the contractor does not receive.
S4_LATE = """
[[contracts]]
code = "s4-late"
name = "エアコン購入費助成事業 受付・審査等業務委託（下期）"
program = "aircon-josei"
party = "callcenter-c"
starts_on = 2026-11-01
ends_on = 2027-03-31
channels = ["local"]

[[routes]]
code = "s4-late-applicants"
name = "エアコン購入費助成 申請者データ（下期）"
program = "aircon-josei"
watch_dir = "inbox/エアコン購入費助成/下期"
targets = [{ contract = "s4-late", connector = "outbox", drop_items = ["本体費用", "設置工事費", "配送費", "撤去費"] }]
"""


@pytest.fixture
async def hub(tmp_path: Path, db_url: str) -> AsyncIterator[HubServices]:
    settings = hub_settings(tmp_path, db_url)
    await bootstrap.initialise(settings)
    extra = tmp_path / "s4_late.toml"
    await asyncio.to_thread(extra.write_text, S4_LATE, encoding="utf-8")
    async with services(settings) as running:
        async with running.sessions.begin() as session:
            await load_demo(session, settings.data_dir.resolve(), extra)
        yield running


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = csv.reader(handle)
    return header, rows


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


async def _s4_extract(tmp_path: Path, rows: int) -> tuple[list[str], list[list[str]]]:
    """Dummy S4 applicants (all eligible, one per household) as the ward's system writes them."""
    source = tmp_path / "dummy.csv"
    await asyncio.to_thread(write_dummy_csv, s4.PROGRAM, rows, source, seed=7)
    return await asyncio.to_thread(_read, source)


async def _refusal(hub: HubServices, folder: Path, name: str) -> str:
    """The reason the ward reads: the intake's, the result file's and the quarantine note agree."""
    [intake] = [i for i in await intakes(hub) if i.file_name == name]
    assert intake.status == IntakeStatus.QUARANTINED
    assert intake.reason_ja
    outcome = json.loads(await asyncio.to_thread((folder / f"{name}.result.json").read_text, encoding="utf-8"))
    assert outcome["status"] == "quarantined"
    result_text = await asyncio.to_thread((folder / f"{name}.result.txt").read_text, encoding="utf-8")
    assert intake.reason_ja in result_text
    return intake.reason_ja


async def test_s4_grant_over_the_cap_is_quarantined_with_row_and_amount(hub: HubServices) -> None:
    header, rows = await _s4_extract(hub.settings.data_dir, 3)
    amount = header.index(s4.AMOUNT)
    rows[1][amount] = "150000"
    folder = await route_dir(hub, "s4-late-applicants")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_write, folder / "申請者.csv", header, rows)
    await process(hub)

    reason = await _refusal(hub, folder, "申請者.csv")
    assert "2件目" in reason
    assert "150,000円" in reason
    assert "100,000円" in reason
    assert await packages(hub) == []

    rows[1][amount] = "100000"  # at the cap: delivered
    await asyncio.to_thread(_write, folder / "申請者（修正）.csv", header, rows)
    await process(hub)
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED]


async def test_s4_grant_is_computed_at_packing_and_capped(hub: HubServices, tmp_path: Path) -> None:
    header, rows = await _s4_extract(tmp_path, 3)
    amount = header.index(s4.AMOUNT)
    costs = [("60000", "20000", "3000", "5000"), ("120000", "25000", "3000", "2000"), ("1,000", "0", "", "0")]
    ward_header = [c for c in header if c != s4.AMOUNT] + list(s4.COST_COLUMNS)
    ward_rows = [[*row[:amount], *row[amount + 1 :], *cost] for row, cost in zip(rows, costs, strict=True)]
    folder = await route_dir(hub, "s4-late-applicants")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_write, folder / "費用.csv", ward_header, ward_rows)
    await process(hub)

    [package] = await packages(hub)
    assert package.status == PackageStatus.DELIVERED, package.last_error
    assert package.content["derived"] == [s4.AMOUNT]
    out = tmp_path / "x"
    [delivered] = await asyncio.to_thread(lambda: list((tmp_path / "outbox").rglob(package.zip_name)))
    extracted = seven_zip_extract(delivered, password_of(hub, package), out)
    assert extracted.returncode == 0, extracted.stdout + extracted.stderr
    got_header, got_rows = await asyncio.to_thread(_read, out / "費用.csv")
    assert got_header == list(s4.CONTRACTOR_ITEMS)  # the plugin's default items: no cost column leaves the ward
    assert [row[got_header.index(s4.AMOUNT)] for row in got_rows] == ["88000", "100000", "1000"]


async def test_s4_cost_that_is_not_an_amount_is_refused(hub: HubServices, tmp_path: Path) -> None:
    header, rows = await _s4_extract(tmp_path, 2)
    amount = header.index(s4.AMOUNT)
    ward_header = [c for c in header if c != s4.AMOUNT] + list(s4.COST_COLUMNS)
    ward_rows = [[*row[:amount], *row[amount + 1 :], "50000", "1000", "0", "0"] for row in rows]
    ward_rows[1][-3] = "-5000"
    folder = await route_dir(hub, "s4-late-applicants")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_write, folder / "費用.csv", ward_header, ward_rows)
    await process(hub)
    reason = await _refusal(hub, folder, "費用.csv")
    assert "2件目" in reason
    assert "-5000" in reason


async def test_s2_bad_grade_and_premium_are_quarantined(hub: HubServices, tmp_path: Path) -> None:
    source = tmp_path / "notices.csv"
    await asyncio.to_thread(write_dummy_csv, s2.PROGRAM, 3, source, "cp932", seed=2)
    text = await asyncio.to_thread(source.read_text, encoding="cp932")
    header, *lines = text.splitlines()
    assert header.split(",")[-2:] == [s2.GRADE, s2.PREMIUM]
    bad = lines[2].rsplit(",", 2)[0] + ",第99段階,-5"
    folder = await route_dir(hub, "s2-notices")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    body = "\r\n".join([header, *lines[:2], bad, ""])
    await asyncio.to_thread((folder / "通知書.csv").write_text, body, encoding="cp932")
    await process(hub)

    reason = await _refusal(hub, folder, "通知書.csv")
    assert "3件目" in reason
    assert "第99段階" in reason
    assert "第1段階から第13段階" in reason
    assert "「-5」" in reason
    assert await packages(hub) == []

    good = lines[2].rsplit(",", 2)[0] + ',第13段階,"145,000"'
    await asyncio.to_thread((folder / "通知書2.csv").write_text, "\r\n".join([header, good, ""]), encoding="cp932")
    await process(hub)
    assert [p.status for p in await packages(hub)] == [PackageStatus.DELIVERED]
