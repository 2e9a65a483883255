"""Approvals for forbidden-category items (C-07) as ward staff record them: on the staff contract page and with
``handover sensitive approve``; each is a register line naming the member of staff, and the import then accepts
the approved item on that contract. Both databases."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

from sqlalchemy import select

from exchange.admin import sensitive_approvals
from exchange.admin.data_import import import_files
from ledger.models.ledger import LedgerEntry
from tests.exchange.test_cli import handover, hub_dir  # noqa: F401 - the CLI fixture, shared
from tests.exchange.web.portal import Portal
from tests.factories import BUILTIN_PLUGINS, DEMO_FILES, contract_by_code


async def _approve(portal: Portal, login: str, contract: str, items: str) -> tuple[int, str]:
    csrf = await portal.login(login)
    public_id = portal.world.contracts[contract].public_id
    answer = await portal.client.post(
        f"/staff/contracts/{public_id}/sensitive-approvals",
        data={
            "csrf_token": csrf,
            "items": items,
            "document_ref": "福生第501号",
            "approver": "生活福祉課長 区役 花子",
            "approved_on": "2026-11-30",
        },
        allow_redirects=False,
    )
    return answer.status, await answer.text()


async def test_staff_record_an_approval_on_the_contract_page(portal: Portal) -> None:
    status, body = await _approve(portal, "staff-same", "main", "病歴、前科")
    assert status == 303, body
    page = await (await portal.client.get(f"/staff/contracts/{portal.world.contracts['main'].public_id}")).text()
    assert "福生第501号" in page and "病歴、前科" in page and "令和8年11月30日" in page
    async with portal.maker() as session:
        contract = await contract_by_code(session, "main")
        [row] = await sensitive_approvals.approvals_of(session, contract)
        lines = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "sensitive.approved"))).all()
    assert row.items == ["病歴", "前科"] and row.approved_on == date(2026, 11, 30)
    [line] = [json.loads(entry)["data"] for (entry,) in lines]
    assert line["handler_from"] == row.recorded_by and "staff-same" in row.recorded_by
    assert "病歴、前科" in line["content"]


async def test_only_staff_of_the_owning_section_and_only_forbidden_items(portal: Portal) -> None:
    status, _ = await _approve(portal, "staff-other", "main", "病歴")
    assert status == 403
    status, _ = await _approve(portal, "a-manager", "main", "病歴")
    assert status in (403, 404)  # the contractor is not even told the staff page exists
    status, body = await _approve(portal, "staff-same", "main", "氏名")
    assert status == 400 and "承諾の記録は不要です" in body
    async with portal.maker() as session:
        assert await sensitive_approvals.approvals_of(session, await contract_by_code(session, "main")) == []


async def test_a_recorded_approval_lets_the_import_accept_the_item(portal: Portal, tmp_path: Path) -> None:
    # The contract as the ward's file describes it, now with 病歴 among its items.
    update = tmp_path / "main.toml"
    update.write_text(
        '[[contracts]]\ncode = "main"\nname = "本契約"\nprogram = "p-welfare"\nparty = "a"\n'
        'starts_on = 2026-04-01\nends_on = 2027-03-31\nallowed_items = ["氏名", "病歴"]\n',
        encoding="utf-8",
    )
    async with portal.maker.begin() as session:
        try:
            await import_files(session, [update], base_dir=tmp_path, plugins=BUILTIN_PLUGINS)
        except Exception as refused:
            assert "病歴" in str(refused) and "要配慮項目の承諾" in str(refused)
        else:
            raise AssertionError("an unapproved 病歴 was imported")
    assert (await _approve(portal, "staff-same", "main", "病歴"))[0] == 303
    async with portal.maker.begin() as session:
        await import_files(session, [update], base_dir=tmp_path, plugins=BUILTIN_PLUGINS)
        assert (await contract_by_code(session, "main")).allowed_items == ["氏名", "病歴"]


def test_cli_records_lists_and_checks_the_staff_member(hub_dir: Path) -> None:  # noqa: F811 - the fixture
    assert handover("init", cwd=hub_dir).returncode == 0
    assert handover("admin", "import", *map(str, DEMO_FILES), cwd=hub_dir).returncode == 0
    args = ["sensitive", "approve", "s4-main", "--items", "信仰する宗教", "--ref", "地福第9号"]
    args += ["--approver", "地域福祉課長", "--on", "2026-11-30"]
    wrong = handover(*args, "--by", "staff-welfare", cwd=hub_dir)
    assert wrong.returncode != 0 and "staff-welfare" in (wrong.stderr + wrong.stdout)
    done = handover(*args, "--by", "staff-chiiki", cwd=hub_dir)
    assert done.returncode == 0, done.stderr
    assert "信仰する宗教／地福第9号" in done.stdout
    listed = handover("sensitive", "list", "s4-main", cwd=hub_dir)
    assert listed.returncode == 0, listed.stderr
    assert "地福第9号\t令和8年11月30日\t地域福祉課長\t信仰する宗教" in listed.stdout
    assert "staff-chiiki" in listed.stdout
    bad_date = handover("sensitive", "approve", "s4-main", "--items", "宗教", "--ref", "x", "--approver", "y",
                        "--on", "11/30", "--by", "staff-chiiki", cwd=hub_dir)  # fmt: skip
    assert bad_date.returncode != 0 and "YYYY-MM-DD" in (bad_date.stderr + bad_date.stdout)
    routes = handover("routes", "list", cwd=hub_dir)
    assert "要配慮事項の確認: 項目名のみ" in routes.stdout
    assert isinstance(routes, subprocess.CompletedProcess)
