"""``handover inspections …`` and ``handover incidents …`` on SQLite and PostgreSQL: staff record what was done, each
step names the person, and the files and reports come out as a person reads them."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from exchange.cli import admin, database, incidents, inspections, setup
from ledger.db import create_engine
from ledger.models.audit import AuditEvent
from tests.factories import DEMO_FILES
from tests.services import require_binary

REPORT = "検査チェックリスト（取扱者名簿を含む）".encode()


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin, inspections, incidents):
        module.register(main)
    return main


def test_inspection_and_incident_records_from_the_command_line(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", db_url)
    runner, cli = CliRunner(), _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["admin", "import", *map(str, DEMO_FILES)]).exit_code == 0

    attachment = tmp_path / "checklist.pdf"
    attachment.write_bytes(REPORT)
    done = runner.invoke(
        cli,
        [
            "inspections", "record", "s4-main",
            "--performed-on", "2026-11-04", "--inspector", "生活福祉課 検査 一郎", "--result", "適合",
            "--findings", "指摘事項なし", "--attachment", str(attachment), "--by", "生活福祉課 区役 三郎",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "検査結果を記録しました" in done.output
    listed = [
        json.loads(line)
        for line in runner.invoke(cli, ["inspections", "list", "--fy", "2026"]).output.split("\n")
        if line
    ]
    row = next(r for r in listed if r["contract"] == "s4-main")
    assert (
        row["result"] == "適合"
        and row["recorded_by"] == "生活福祉課 区役 三郎"
        and row["attachment"] == "checklist.pdf"
    )
    attachments = tmp_path / "var" / "blobs" / "attachments"  # the blob store (``[blobs]`` unset: DATA_DIR/blobs)
    sealed = [p.read_bytes() for p in attachments.rglob("*") if p.is_file()]
    assert len(sealed) == 1 and REPORT not in sealed[0]
    out = tmp_path / "back.pdf"
    assert runner.invoke(cli, ["inspections", "attachment", row["id"], "--out", str(out)]).exit_code == 0
    assert out.read_bytes() == REPORT
    report = tmp_path / "inspections.csv"
    result = runner.invoke(cli, ["inspections", "report", "--fy", "2026", "--format", "csv", "--out", str(report)])
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert any("生活福祉課 検査 一郎（区）" in line and "適合" in line for line in lines), lines
    refused = runner.invoke(
        cli,
        ["inspections", "record", "s4-main", "--performed-on", "2026-11-04", "--inspector", "x", "--result", "適合",
         "--inspected-by", "nobody", "--by", "y"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "委託元" in refused.output

    opened = runner.invoke(
        cli,
        ["incidents", "record", "--title", "書類の誤送付", "--description", "通知書1通を別の世帯に送付",
         "--reported-by", "生活福祉課 区役 三郎", "--discovered-at", "2026-11-05T09:30", "--contract", "s4-main"],
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    incident_id = opened.output.split()[1]
    by = ["--by", "生活福祉課 区役 三郎"]
    early = runner.invoke(cli, ["incidents", "filed", incident_id, "final", "--at", "2026-11-20T10:00",
                                "--reference", "個情第9号", *by])  # fmt: skip
    assert early.exit_code == 2 and "速報" in early.output
    for args in (
        ["filed", incident_id, "preliminary", "--at", "2026-11-06T10:00", "--reference", "個情第8号", *by],
        ["message", incident_id, "instruction", "--text", "誤送付先からの回収状況を報告すること", *by],
        ["message", incident_id, "answer", "--text", "回収済み（電話で受付）", *by],
        ["filed", incident_id, "final", "--at", "2026-11-20T10:00", "--reference", "個情第9号", *by],
        ["close", incident_id, "--note", "回収を確認し、封入手順を改めた", *by],
    ):
        result = runner.invoke(cli, ["incidents", *args])
        assert result.exit_code == 0, (args, result.output)
    shown = json.loads(runner.invoke(cli, ["incidents", "show", incident_id]).output)
    assert shown["preliminary_reported_jst"] == "2026-11-06 10:00" and shown["closed_jst"]
    assert [m["kind"] for m in shown["messages"]] == ["instruction", "answer"]
    late = runner.invoke(cli, ["incidents", "message", incident_id, "instruction", "--text", "追加", *by])
    assert late.exit_code == 2 and "終結" in late.output
    pdf = tmp_path / "incident.pdf"
    assert runner.invoke(cli, ["incidents", "pdf", incident_id, "--out", str(pdf)]).exit_code == 0
    text = subprocess.run(
        [require_binary("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    for phrase in ("個情第8号", "個情第9号", "回収済み", "終結"):
        assert phrase in text.replace("\n", ""), phrase
    assert asyncio.run(_audited(db_url)) == [
        ("inspection.record", None, "生活福祉課 区役 三郎"),
        *[
            ("incident.manage", op, "生活福祉課 区役 三郎")
            for op in ("open", "filing", "message", "message", "filing", "close")
        ],
    ]


async def _audited(url: str) -> list[tuple[str, object, object]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id))
            ).all()
    finally:
        await engine.dispose()
    return [(action, detail.get("op"), detail.get("by")) for action, detail in rows if detail.get("via") == "cli"]
