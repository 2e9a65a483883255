"""``handover reference load|remove``: staff of the owning section register the S1 extract, sealed, recorded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from exchange.cli import admin, database, reference, setup
from ledger.db import create_engine, session_factory
from ledger.models.ledger import LedgerEntry
from tests.factories import DEMO_FILES

EXTRACT = "世帯番号,氏名,生年月日,保護開始日,保護廃止日\nH1,区民 一郎,1950-01-02,2010-04-01,2016-03-31\n"


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin, reference):
        module.register(main)
    return main


async def _lines(url: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind.like("reference.%")))).all()
    finally:
        await engine.dispose()
    return [json.loads(row.entry) for row in rows]


def test_staff_load_and_remove_the_extract(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", db_url)
    runner, cli = CliRunner(), _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["admin", "import", *map(str, DEMO_FILES)]).exit_code == 0
    source = tmp_path / "extract.csv"
    source.write_bytes(EXTRACT.encode("cp932"))
    other = runner.invoke(cli, ["reference", "load", "s1-main", str(source), "--by", "staff-kaigo"])
    assert other.exit_code != 0 and "職員ではありません" in other.output
    bad = tmp_path / "bad.csv"
    bad.write_text("氏名,住所\n区民 一郎,東京都\n", encoding="utf-8")
    refused = runner.invoke(cli, ["reference", "load", "s1-main", str(bad), "--by", "staff-welfare"])
    assert refused.exit_code != 0 and "抽出データの形式が正しくありません" in refused.output
    loaded = runner.invoke(cli, ["reference", "load", "s1-main", str(source), "--by", "staff-welfare"])
    assert loaded.exit_code == 0 and "1件" in loaded.output, loaded.output
    # Sealed into the blob store (``[blobs]`` unset: ``DATA_DIR/blobs``), never plain.
    sealed = list((tmp_path / "var" / "blobs" / "references").iterdir())
    assert len(sealed) == 1 and "区民".encode("cp932") not in sealed[0].read_bytes()
    assert b"1950-01-02" not in sealed[0].read_bytes()
    removed = runner.invoke(cli, ["reference", "remove", "s1-main", "--by", "staff-welfare"])
    assert removed.exit_code == 0, removed.output
    assert list((tmp_path / "var" / "blobs" / "references").iterdir()) == []
    again = runner.invoke(cli, ["reference", "remove", "s1-main", "--by", "staff-welfare"])
    assert again.exit_code != 0 and "登録されていません" in again.output
    lines = asyncio.run(_lines(db_url))
    assert [line["kind"] for line in lines] == ["reference.loaded", "reference.removed"]
    assert all("staff-welfare" in str(line["data"]) for line in lines)
