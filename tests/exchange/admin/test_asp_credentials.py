"""LGWAN-ASP login details received out of band (C-22): recorded with who received them and how, the password
sealed and never in argv, the database as text or the register, and a rotation reminder from the duty."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin.asp_credentials import password_aad
from exchange.keys import sealing
from ledger.db import create_engine
from ledger.models.audit import AuditEvent
from ledger.models.credentials import ProviderCredential
from ledger.models.duties import DutyNotice
from ledger.models.ledger import LedgerEntry
from ledger.wareki import JST
from tests.factories import DEMO_FILES

ROOT = Path(__file__).parents[3]
SECRET = "Asp-Pa55word-隠す"
T = TypeVar("T")


@pytest.fixture
def hub_dir(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "hub.toml").write_text(f'data_dir = "var"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    assert handover(tmp_path, "init").returncode == 0
    assert handover(tmp_path, "admin", "import", *map(str, DEMO_FILES)).returncode == 0
    return tmp_path


def handover(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange", "--config", str(cwd / "hub.toml"), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def query(db_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Read the hub's database from this (synchronous) test, between two commands."""

    async def go() -> T:
        engine = create_engine(db_url)
        try:
            async with AsyncSession(engine) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def record(hub_dir: Path, *extra: str, by: str = "staff-kaigo") -> subprocess.CompletedProcess[str]:
    args = ["--provider", "株式会社見本LGWAN印刷", "--url", "https://asp.lgwan.example/login", "--login-id", "ward-001"]
    return handover(
        hub_dir,
        "admin", "asp-credentials", "record", "asp-print", *args, "--method", "簡易書留", "--by", by,
        "--password-stdin", *extra,
        stdin=SECRET + "\n",
    )  # fmt: skip


def test_login_details_are_recorded_sealed_and_listed(hub_dir: Path, db_url: str) -> None:
    contractor = record(hub_dir, by="asp-handler")
    assert contractor.returncode == 2 and "区の職員ではありません" in contractor.stderr
    typed = record(hub_dir, by="区役 次郎")
    assert typed.returncode == 2 and "人物コード" in typed.stderr
    answer = record(hub_dir)
    assert answer.returncode == 0, answer.stderr
    assert SECRET not in answer.stdout + answer.stderr
    listed = handover(hub_dir, "admin", "asp-credentials", "list")
    assert "asp-print" in listed.stdout and "ward-001" in listed.stdout and "区役 次郎（staff-kaigo）" in listed.stdout
    assert SECRET not in listed.stdout

    async def stored(session: AsyncSession) -> tuple[ProviderCredential, str, list[str]]:
        [row] = (await session.scalars(select(ProviderCredential))).all()
        dumps = [
            " ".join(str(r) for r in await session.execute(select(table)))
            for table in (ProviderCredential.__table__, LedgerEntry.__table__, AuditEvent.__table__)
        ]
        entry = await session.scalar(
            select(LedgerEntry.entry).where(LedgerEntry.kind == "provider_credentials.received")
        )
        assert entry is not None
        return row, entry.decode() if isinstance(entry, bytes) else entry, dumps

    row, entry, dumps = query(db_url, stored)
    assert row.method == "簡易書留" and row.received_by == "区役 次郎（staff-kaigo）"
    for dump in dumps:
        assert SECRET not in dump and SECRET.encode().hex() not in dump
    line = json.loads(entry)["data"]
    assert line["handler_to"] == "区役 次郎（staff-kaigo）" and line["channel"] == "簡易書留"
    keyring = sealing.Keyring.load(hub_dir / "var" / "master.key")
    sealed = sealing.SealedSecret.from_bytes(row.sealed_password)
    assert sealing.unseal(keyring, sealed, password_aad(row.public_id)).decode() == SECRET

    # A new password for the same name replaces the old record and keeps it as history.
    assert record(hub_dir).returncode == 0

    async def history(session: AsyncSession) -> list[bool]:
        rows = await session.scalars(select(ProviderCredential).order_by(ProviderCredential.id))
        return [r.replaced_at is not None for r in rows]

    assert query(db_url, history) == [True, False]


def test_the_password_is_never_an_argument(hub_dir: Path) -> None:
    usage = handover(hub_dir, "admin", "asp-credentials", "record", "--help")
    assert "--password " not in usage.stdout and "--password-stdin" in usage.stdout


def test_rotation_reminder_is_a_ward_notice_once(hub_dir: Path, db_url: str) -> None:
    received = (datetime.now(UTC) - timedelta(days=80)).astimezone(JST).strftime("%Y-%m-%d %H:%M")
    assert record(hub_dir, "--received-at", received, "--rotate-days", "90").returncode == 0
    first = handover(hub_dir, "duties", "run", "credentials.rotation")
    assert first.returncode == 0, first.stderr
    assert "'notices': 1" in first.stdout, first.stdout
    again = handover(hub_dir, "duties", "run", "credentials.rotation")
    assert "'notices': 0" in again.stdout, "told once per occasion, not every day"

    async def notices(session: AsyncSession) -> list[DutyNotice]:
        return list(await session.scalars(select(DutyNotice).where(DutyNotice.kind == "credential.rotation")))

    [notice] = query(db_url, notices)
    assert "asp-print" in notice.message_ja and "変更期限" in notice.message_ja and notice.audience == "ward"
