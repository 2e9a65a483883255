"""``handover ledger`` and ``handover report`` through click, against both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from exchange.cli import ledger as ledger_commands
from exchange.cli import report
from exchange.cli.setup import CliState
from exchange.intake.results import delivered_entry
from ledger.db import create_engine, session_factory
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.tlog import checkpoint
from ledger.wareki import JST
from tests.clock import frozen
from tests.factories import register_world
from tests.ledger.tampering import allow_tampering

ORIGIN = "handover.test/ledger"


def _cli() -> click.Group:
    """A group like ``exchange.cli.main`` holding only the commands under test."""

    @click.group()
    @click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
    @click.pass_context
    def main(ctx: click.Context, config_path: Path) -> None:
        ctx.obj = CliState(config_path)

    ledger_commands.register(main)
    report.register(main)
    return main


async def _populate(url: str) -> None:
    """Five register lines: four for S2-PRINT in April 2026 (one names 𠮷田), one for S2-CALL."""
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            world = await register_world(session)
            for day in (1, 2, 3):
                package = await world.deliver(
                    session, world.print_contract, f"通知_{day}.csv", datetime(2026, 4, day, tzinfo=JST)
                )
                with frozen(datetime(2026, 4, day, 10, 0, tzinfo=JST)):
                    await record(session, delivered_entry(package, "sftp"))
            with frozen(datetime(2026, 4, 4, 10, 0, tzinfo=JST)):
                await record(
                    session,
                    RegisterEntry(
                        kind=RegisterKind.PACKAGE_ACKNOWLEDGED,
                        category=Category.RECEIVED,
                        content="受領確認",
                        contract_id=world.print_contract.public_id,
                        handler_to="𠮷田 太郎",
                    ),
                )
                other = await world.deliver(
                    session, world.call_contract, "問合せ.csv", datetime(2026, 4, 4, tzinfo=JST)
                )
                await record(session, delivered_entry(other, "box"))
    finally:
        await engine.dispose()


async def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            await allow_tampering(session)
            await session.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def hub(tmp_path: Path, db_url: str) -> Path:
    data = tmp_path / "var"
    data.mkdir()
    checkpoint.generate_key_file(data / "ledger-signing.key", ORIGIN)
    config = tmp_path / "hub.toml"
    config.write_text(
        f'data_dir = "{data}"\nledger_origin = "{ORIGIN}"\n[database]\nurl = "{db_url}"\n', encoding="utf-8"
    )
    asyncio.run(_populate(db_url))
    return config


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(_cli(), ["--config", str(config), *args])


def test_verify_checkpoint_prove_consistency_and_export(hub: Path, tmp_path: Path) -> None:
    verified = invoke(hub, "ledger", "verify")
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("ok: 5 entries, root ")
    signed = invoke(hub, "ledger", "checkpoint")
    assert signed.exit_code == 0, signed.output
    assert signed.stdout.splitlines()[:2] == [ORIGIN, "5"]
    assert "checkpoints match" in invoke(hub, "ledger", "verify").stdout
    assert ", 1 checkpoints match" in invoke(hub, "ledger", "verify").stdout

    proof = invoke(hub, "ledger", "prove", "2", "--size", "4")
    assert proof.exit_code == 0, proof.output
    document = json.loads(proof.stdout)
    assert (document["index"], document["tree_size"], document["verified"]) == (2, 4, True)
    assert json.loads(document["entry"])["kind"] == "package.delivered"
    consistency = invoke(hub, "ledger", "consistency", "2", "5")
    assert consistency.exit_code == 0, consistency.output
    document = json.loads(consistency.stdout)
    assert (document["verified"], document["checkpoint_mismatches"]) == (True, [])

    out = tmp_path / "export"
    exported = invoke(hub, "ledger", "export", str(out))
    assert exported.exit_code == 0, exported.output
    assert len((out / "entries.jsonl").read_bytes().splitlines()) == 5
    assert len(list((out / "checkpoints").iterdir())) == 1
    again = invoke(hub, "ledger", "export", str(out))
    assert again.exit_code == 2
    assert "not empty" in again.stderr


def test_bad_arguments_are_explained(hub: Path) -> None:
    beyond = invoke(hub, "ledger", "prove", "5")
    assert beyond.exit_code == 2
    assert "entry 5 is not in a tree of 5 entries" in beyond.stderr
    backwards = invoke(hub, "ledger", "consistency", "4", "2")
    assert backwards.exit_code == 2
    assert "need OLD <= NEW <= 5" in backwards.stderr


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE ledger_entries SET entry = CAST('{}' AS BLOB) WHERE idx = 3", "FAILED at index 3: stored leaf hash"),
        ("DELETE FROM ledger_entries WHERE idx = 3", "FAILED at index 3: expected index 3, found 4"),
        ("UPDATE ledger_entries SET kind = 'forged' WHERE idx = 1", "FAILED at index 1: column kind"),
    ],
)
def test_tampering_fails_verify_and_names_the_index(hub: Path, db_url: str, statement: str, message: str) -> None:
    if db_url.startswith("postgresql"):
        statement = statement.replace("BLOB", "BYTEA")
    asyncio.run(_execute(db_url, statement))
    result = invoke(hub, "ledger", "verify")
    assert result.exit_code == 1
    assert result.stdout.startswith(message)
    refused = invoke(hub, "ledger", "checkpoint")
    assert refused.exit_code == 2
    assert "does not verify" in refused.stderr


def test_reports_are_written_in_each_format(hub: Path, tmp_path: Path) -> None:
    out = tmp_path / "register.csv"
    written = invoke(hub, "report", "handover", "--contract", "S2-PRINT", "--fy", "2026", "--out", str(out))
    assert written.exit_code == 0, written.output
    assert written.stdout.strip() == f"wrote {out} (csv, 4 rows)"
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert [row[3] for row in rows[1:]] == ["提供", "提供", "提供", "受領"]
    assert rows[4][5] == "𠮷田 太郎"

    xlsx = tmp_path / "register.xlsx"
    by_program = invoke(hub, "report", "handover", "--program", "kaigo-hokenryo", "--out", str(xlsx))
    assert by_program.exit_code == 0, by_program.output
    assert openpyxl.load_workbook(xlsx).sheetnames == ["S2-CALL", "S2-PRINT"]

    pdf = tmp_path / "media.pdf"
    media = invoke(hub, "report", "media", "--contract", "S2-PRINT", "--format", "pdf", "--out", str(pdf))
    assert media.exit_code == 0, media.output
    assert pdf.read_bytes().startswith(b"%PDF")

    ranged = tmp_path / "april2.csv"
    result = invoke(
        hub,
        "report",
        "handover",
        "--contract",
        "S2-PRINT",
        "--from",
        "2026-04-02",
        "--to",
        "2026-04-03",
        "--encoding",
        "cp932",
        "--out",
        str(ranged),
    )
    assert result.exit_code == 0, result.output
    assert len(ranged.read_bytes().decode("cp932").splitlines()) == 3


def test_report_refusals_leave_no_file(hub: Path, tmp_path: Path) -> None:
    out = tmp_path / "register.csv"
    cp932 = invoke(hub, "report", "handover", "--contract", "S2-PRINT", "--encoding", "cp932", "--out", str(out))
    assert cp932.exit_code == 2
    assert "「𠮷」" in cp932.stderr
    unknown = invoke(hub, "report", "print", "--contract", "nope", "--out", str(out))
    assert unknown.exit_code == 2
    assert "契約コード「nope」は登録されていません" in unknown.stderr
    reversed_period = invoke(hub, "report", "handover", "--from", "2026-05-01", "--to", "2026-04-01", "--out", str(out))
    assert reversed_period.exit_code == 2
    no_format = invoke(hub, "report", "handover", "--out", str(tmp_path / "register.txt"))
    assert no_format.exit_code == 2
    assert "--format" in no_format.stderr
    assert list(tmp_path.glob("register*")) == []


def test_report_into_a_missing_folder_is_one_clear_error(hub: Path, tmp_path: Path) -> None:
    result = invoke(hub, "report", "media", "--out", str(tmp_path / "missing" / "media.csv"))
    assert result.exit_code == 2
    assert "cannot be written: No such file or directory" in result.stderr
