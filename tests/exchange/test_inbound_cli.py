"""``handover inbound …`` and return folders from the command line (issue 14), on both databases: staff list what
came back, fetch it (recorded, naming them), release or discard a quarantined upload, and ``duties run
inbound.returns`` puts accepted uploads into the return folder the import set up."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import click
import pytest
import pyzipper
from click.testing import CliRunner
from sqlalchemy import select

from exchange.blobs.local import LocalBlobStore
from exchange.cli import admin, database, duties, inbound, setup
from exchange.inbound import uploads
from exchange.keys.sealing import Keyring
from ledger.db import create_engine, session_factory
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.ledger import LedgerEntry
from ledger.models.parties import Person
from tests.factories import DEMO_FILES
from tests.services import require_binary

CONTENT = "受付番号,氏名\n1,区民 一郎\n".encode()
RETURN_FOLDERS = """
[[return_folders]]
code = "ret-s1"
contract = "s1-main"
path = "returns/s1"
"""


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = setup.CliState(None)

    for module in (setup, database, admin, inbound, duties):
        module.register(main)
    return main


async def _chunks() -> AsyncIterator[bytes]:
    yield CONTENT


async def _seal_upload(db_url: str, data_dir: Path, name: str, status: InboundStatus) -> str:
    """What a contractor's portal upload leaves behind (``exchange.inbound.uploads.seal`` and its row)."""
    keyring = await asyncio.to_thread(Keyring.load, data_dir / "master.key")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            contract = (await session.execute(select(Contract).where(Contract.code == "s1-main"))).scalar_one()
            person = (await session.execute(select(Person).where(Person.code == "a-handler"))).scalar_one()
            upload_id = new_public_id()
            blobs = await asyncio.to_thread(LocalBlobStore, data_dir / "blobs")  # the hub's default store
            stored = await uploads.seal(
                blobs, keyring.current, upload_id, name, _chunks(), suffixes=frozenset({".csv"})
            )
            session.add(
                InboundFile(
                    public_id=upload_id,
                    contract_id=contract.id,
                    person_id=person.id,
                    kind="entered_data",
                    file_name=stored.name,
                    blob_key=stored.key,
                    size=stored.size,
                    sha256=stored.sha256,
                    status=status,
                    reason_ja="確認が必要です。" if status is InboundStatus.QUARANTINED else None,
                    records=1,
                )
            )
        return upload_id
    finally:
        await engine.dispose()


async def _lines(db_url: str, kind: str) -> list[dict[str, object]]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
            return [json.loads(row)["data"] for row in rows]
    finally:
        await engine.dispose()


def test_staff_list_fetch_release_discard_and_the_return_folder(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("HANDOVER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HANDOVER_DATABASE__URL", db_url)
    runner = CliRunner()
    cli = _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    extra = tmp_path / "returns.toml"
    extra.write_text(RETURN_FOLDERS, encoding="utf-8")
    imported = runner.invoke(cli, ["admin", "import", *map(str, DEMO_FILES), str(extra)])
    assert imported.exit_code == 0, imported.output
    accepted = asyncio.run(_seal_upload(db_url, data_dir.resolve(), "entered.csv", InboundStatus.RECEIVED))
    held = asyncio.run(_seal_upload(db_url, data_dir.resolve(), "held.csv", InboundStatus.QUARANTINED))
    doubtful = asyncio.run(_seal_upload(db_url, data_dir.resolve(), "doubtful.csv", InboundStatus.QUARANTINED))

    listed = runner.invoke(cli, ["inbound", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in json.loads(listed.output)}
    assert set(rows) == {accepted, held, doubtful}
    assert rows[accepted]["sender"].endswith("（a-handler）") and rows[accepted]["records"] == 1
    assert rows[held]["status"] == "quarantined" and rows[held]["reason"] == "確認が必要です。"
    text = runner.invoke(cli, ["inbound", "list", "--status", "quarantined"]).output
    assert "held.csv" in text and "entered.csv" not in text and "隔離中" in text
    assert json.loads(runner.invoke(cli, ["inbound", "show", accepted]).output)["file_name"] == "entered.csv"

    out = tmp_path / "taken" / "entered.csv"
    fetched = runner.invoke(cli, ["inbound", "fetch", accepted, "--by", "staff-welfare", "--out", str(out)])
    assert fetched.exit_code == 0, fetched.output
    assert out.read_bytes() == CONTENT and stat.S_IMODE(out.stat().st_mode) == 0o600
    [line] = asyncio.run(_lines(db_url, "inbound.fetched"))
    assert "staff-welfare" in str(line["handler_to"]) and line["channel"] == "cli"
    other = runner.invoke(cli, ["inbound", "fetch", accepted, "--by", "staff-kaigo", "--out", str(tmp_path / "x")])
    assert other.exit_code == 2 and "生活福祉課の職員ではありません" in other.output
    assert not (tmp_path / "x").exists()

    released = runner.invoke(cli, ["inbound", "release", held, "--by", "staff-welfare", "--reason", "内容を確認した"])
    assert released.exit_code == 0, released.output
    discarded = runner.invoke(cli, ["inbound", "discard", doubtful, "--by", "staff-welfare", "--reason", "誤送信"])
    assert discarded.exit_code == 0, discarded.output
    assert "内容を確認した" in str(asyncio.run(_lines(db_url, "inbound.released"))[0]["content"])
    assert "誤送信" in str(asyncio.run(_lines(db_url, "inbound.discarded"))[0]["content"])
    gone = runner.invoke(cli, ["inbound", "fetch", doubtful, "--by", "staff-welfare", "--out", str(tmp_path / "y")])
    assert gone.exit_code == 2 and "破棄済み" in gone.output

    delivered = runner.invoke(cli, ["duties", "run", "inbound.returns"])
    assert delivered.exit_code == 0 and "'delivered': 2" in delivered.output, delivered.output
    folder = data_dir.resolve() / "returns" / "s1"
    zips = sorted(p.name for p in folder.iterdir())
    assert len(zips) == 2 and all(name.endswith(".zip") for name in zips)
    assert all(CONTENT not in (folder / name).read_bytes() for name in zips)
    assert len(asyncio.run(_lines(db_url, "inbound.return_delivered"))) == 2

    # The password goes by a printed notice to staff of the section, only after the receipt is recorded.
    notice = tmp_path / "notice.pdf"
    early = runner.invoke(cli, ["inbound", "return-notice", accepted, "--to", "staff-welfare", "--out", str(notice)])
    assert early.exit_code == 2 and "受領確認" in early.output and not notice.exists()
    wrong = runner.invoke(cli, ["inbound", "return-received", accepted, "--by", "staff-kaigo"])
    assert wrong.exit_code == 2
    received = runner.invoke(cli, ["inbound", "return-received", accepted, "--by", "staff-welfare"])
    assert received.exit_code == 0 and "receipt recorded" in received.output
    printed = runner.invoke(cli, ["inbound", "return-notice", accepted, "--to", "staff-welfare", "--out", str(notice)])
    assert printed.exit_code == 0, printed.output
    assert stat.S_IMODE(notice.stat().st_mode) == 0o600
    text = subprocess.run(
        [require_binary("pdftotext"), str(notice), "-"], capture_output=True, text=True, check=True
    ).stdout
    [zip_name] = [name for name in zips if name.startswith("entered_")]
    password = next(word for word in text.split() if len(word) == 24 and word.isalnum())
    with pyzipper.AESZipFile(folder / zip_name) as archive:
        archive.setpassword(password.encode())
        assert archive.read("entered.csv") == CONTENT
    released_lines = asyncio.run(_lines(db_url, "password.released"))
    assert [line["channel"] for line in released_lines] == ["notice"]
