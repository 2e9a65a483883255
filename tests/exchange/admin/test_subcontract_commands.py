"""Sub-contracts through the command line (C-06): the import refuses items beyond the parent's, approvals are
typed in Japan time on any host, and a revoked approval stops the next dropped file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from exchange.hub import HubServices
from ledger.models import Contract, IntakeStatus, LedgerEntry
from policies.dummy import write_dummy_csv
from tests.exchange.helpers import intakes, packages, process, route_dir
from tests.factories import DEMO_FILES

ROOT = Path(__file__).parents[3]

BAD_SUBCONTRACT = """
[[contracts]]
code = "s1-print-2"
name = "口座まで欲しがる再委託"
program = "seikatsu-hogo-tsuika"
party = "printer-b"
parent = "s1-main"
starts_on = 2026-04-01
ends_on = 2027-03-31
allowed_items = ["氏名", "住所", "本籍"]
approval = { by = "生活福祉課長", at = 2026-04-01T10:00:00+09:00, ref = "見福第2号" }
"""


def _config(tmp_path: Path, db_url: str) -> Path:
    """The same hub as ``tests.exchange.helpers.hub_settings``, as a file the CLI reads."""
    path = tmp_path / "hub.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[database]\nurl = "{db_url}"\n[intake]\nquiet_seconds = 0\n'
        f'[connectors.outbox]\nkind = "local"\nroot = "{tmp_path / "outbox"}"\n'
        'jurisdiction = { country = "jp", region = "test" }\n'
        f'[connectors.dvd]\nkind = "media"\nroot = "{tmp_path / "media"}"\n'
        'jurisdiction = { country = "jp", region = "test" }\n',
        encoding="utf-8",
    )
    return path


def handover(config: Path, *args: str, zone: str = "UTC") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "--config", str(config), *args],
        cwd=config.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TZ": zone},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def cli(config: Path, *args: str, zone: str = "UTC") -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(handover, config, *args, zone=zone)


async def test_import_refuses_items_beyond_the_parents(hub: HubServices, tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    extra = tmp_path / "bad.toml"
    await asyncio.to_thread(extra.write_text, BAD_SUBCONTRACT, encoding="utf-8")
    answer = await cli(config, "admin", "import", *map(str, DEMO_FILES), str(extra))
    assert answer.returncode == 2, answer.stdout
    assert "s1-print-2" in answer.stderr and "本籍" in answer.stderr and "元の契約" in answer.stderr
    async with hub.sessions() as session:
        assert await session.scalar(select(Contract).where(Contract.code == "s1-print-2")) is None


async def test_approval_typed_on_a_new_york_host_is_japan_time(hub: HubServices, tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    for zone in ("UTC", "America/New_York"):
        args = ["--approver", "生活福祉課長", "--ref", f"見福第{zone}号", "--at", "2026-12-02 10:00"]
        answer = await cli(config, "subcontracts", "approve", "s1-print", *args, "--by", "staff-welfare", zone=zone)
        assert answer.returncode == 0, answer.stderr
        async with hub.sessions() as session:
            contract = (await session.execute(select(Contract).where(Contract.code == "s1-print"))).scalar_one()
        assert contract.approved_at is not None
        assert contract.approved_at.isoformat() == "2026-12-02T01:00:00+00:00", zone
        shown = await cli(config, "subcontracts", "show", "s1-print", zone=zone)
        assert "2026-12-02 10:00" in shown.stdout, (zone, shown.stdout)
    typed = await cli(config, "subcontracts", "approve", "s1-print", *args, "--by", "区役 花子")
    assert typed.returncode == 2 and "人物コード" in typed.stderr
    other = await cli(config, "subcontracts", "approve", "s1-print", *args, "--by", "staff-kaigo")
    assert other.returncode == 2 and "生活福祉課の職員ではありません" in other.stderr


async def test_drop_after_revocation_is_quarantined(hub: HubServices, tmp_path: Path, db_url: str) -> None:
    config = _config(tmp_path, db_url)
    folder = await route_dir(hub, "s1-to-printer")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / "前.csv", encoding="cp932")
    await process(hub)
    assert len(await packages(hub)) == 1, "approved: the printer gets the file"

    not_staff = await cli(config, "subcontracts", "revoke", "s1-print", "--by", "b-manager", "--reason", "x")
    assert not_staff.returncode == 2 and "職員ではありません" in not_staff.stderr
    revoked = await cli(config, "subcontracts", "revoke", "s1-print", "--by", "staff-welfare", "--reason", "監査で不備")
    assert revoked.returncode == 0, revoked.stderr
    async with hub.sessions() as session:
        [entry] = await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "subcontract.revoked"))
    line = json.loads(entry[0])["data"]
    assert (
        line["handler_from"] == "区役 花子（staff-welfare）"
        and line["details"]["revoked_by"]["code"] == "staff-welfare"
    )

    await asyncio.to_thread(write_dummy_csv, "seikatsu-hogo-tsuika", 5, folder / "後.csv", encoding="cp932")
    await process(hub)
    assert len(await packages(hub)) == 1, "nothing more goes to the sub-contractor"
    [after] = [i for i in await intakes(hub) if i.file_name == "後.csv"]
    assert after.status == IntakeStatus.QUARANTINED
    assert after.reason_ja is not None and "取り消されています" in after.reason_ja
