"""``handover certificates submit|list|accept|return`` and ``handover access-review`` as staff use them (C-04, C-11):
``--by`` must name a real account allowed to decide, and each decision is a register line naming that person."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from exchange.cli import main
from exchange.retention import contractor_certificates as contractor_certs
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.parties import Account
from ledger.models.retention import ContractorCertificate
from ledger.wareki import JST, fiscal_year
from tests.exchange.retention.facts import FACTS
from tests.exchange.web.portal import Portal


def _config(portal: Portal, db_url: str) -> Path:
    root = portal.data_dir.parent
    config = root / "hub.toml"
    config.write_text(f'data_dir = "{root}"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return config


async def _cli(config: Path, *args: str) -> Result:
    """``handover …`` in-process (in a thread: it runs its own event loop), keeping pytest's log handlers."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), *args])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert result.exit_code in (0, 2), result.output
    return result


async def _register(portal: Portal, kind: str) -> list[str]:
    async with portal.maker() as session:
        rows = (await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == kind))).scalars()
        return [row.decode() for row in rows]


def _submit(request_id: str, package: str, erased_on: str) -> list[str]:
    facts = [part for key, value in FACTS.items() for part in (f"--{key.replace('_', '-')}", value)]
    return [
        "certificates",
        "submit",
        "--request",
        request_id,
        "--package",
        package,
        "--method",
        "destroy",
        "--erased-on",
        erased_on,
        "--media",
        "紙の申請書",
        "--operator",
        "作業 太郎",
        "--verifier",
        "確認 花子",
        *facts,
    ]


async def test_cli_review_names_a_real_member_of_staff(portal: Portal, db_url: str) -> None:
    config = _config(portal, db_url)
    async with portal.maker.begin() as session:
        contract = (await session.execute(select(Contract).where(Contract.code == "main"))).scalar_one()
        created, _ = await contractor_certs.request_certificates(
            session, contract, datetime.now(UTC), reason="on_demand", due_days=14
        )
        request_id = next(r.public_id for r in created if r.contract_id == contract.id)
    package = portal.world.packages["main"].public_id
    today = datetime.now(JST).date()

    early = await _cli(config, *_submit(request_id, package, (today - timedelta(days=3)).isoformat()))
    assert early.exit_code == 2 and "より前です" in early.output and "main_データ.zip" in early.output
    assert (await _cli(config, *_submit(request_id, package, today.isoformat()))).exit_code == 0
    async with portal.maker() as session:
        [certificate] = (await session.execute(select(ContractorCertificate))).scalars().all()
    [line] = await _register(portal, "certificate.submitted")
    assert "作業 太郎" in line and "破壊（Destroy）" in line and request_id in line  # the contractor's operator
    listed = await _cli(config, "certificates", "list", "--contract", "main")
    assert f"依頼 {request_id}" in listed.output and f"証明書 {certificate.public_id}" in listed.output
    assert "確認待ち" in listed.output

    cid = certificate.public_id
    for by, words in (
        ("nobody", "登録されていません"),
        ("compliance", "閲覧のみ"),
        ("staff-other", "担当課の職員のみ"),
    ):
        refused = await _cli(config, "certificates", "return", cid, "--by", by, "--reason", "記載不備")
        assert refused.exit_code == 2 and words in refused.output, (by, refused.output)
    assert await _register(portal, "certificate.returned") == []
    returned = await _cli(config, "certificates", "return", cid, "--by", "staff-same", "--reason", "検証結果が空欄")
    assert returned.exit_code == 0 and "差し戻しました" in returned.output
    [line] = await _register(portal, "certificate.returned")
    assert "staff-same 様（staff-same）" in line and "検証結果が空欄" in line
    assert (
        "差戻し（staff-same 様（staff-same））：検証結果が空欄" in (await _cli(config, "certificates", "list")).output
    )

    assert (await _cli(config, *_submit(request_id, package, today.isoformat()))).exit_code == 0
    async with portal.maker() as session:
        second = (
            await session.execute(select(ContractorCertificate).order_by(ContractorCertificate.id.desc()).limit(1))
        ).scalar_one()
    again = await _cli(config, "certificates", "accept", cid, "--by", "staff-same")
    assert again.exit_code == 2 and "差戻し済み" in again.output
    accepted = await _cli(config, "certificates", "accept", second.public_id, "--by", "staff-same")
    assert accepted.exit_code == 0, accepted.output
    [line] = await _register(portal, "certificate.accepted")
    assert "staff-same 様（staff-same）" in line and second.public_id in line


async def test_cli_access_review_is_the_compliance_officers_account(portal: Portal, db_url: str) -> None:
    config = _config(portal, db_url)
    now = datetime.now(UTC)
    year = fiscal_year(now.astimezone(JST).date())
    async with portal.maker.begin() as session:
        session.add(
            AccessFinding(
                key="off-hours:test",
                rule="off_hours",
                fiscal_year=year,
                at=now,
                summary_ja="業務時間外のダウンロード",
                event_ids=[],
                found_at=now,
            )
        )
    for by, words in (
        ("監査 正子", "登録されていません"),
        ("staff-same", "監査担当者のみ"),
        ("admin", "監査担当者のみ"),
    ):
        refused = await _cli(config, "access-review", "--fy", str(year), "--by", by, "--comment", "確認")
        assert refused.exit_code == 2 and words in refused.output, (by, refused.output)
    done = await _cli(config, "access-review", "--fy", str(year), "--by", "compliance", "--comment", "問題なし")
    assert done.exit_code == 0 and "1件" in done.output
    async with portal.maker() as session:
        [review] = (await session.execute(select(AccessReview))).scalars().all()
        account = (await session.execute(select(Account).where(Account.login == "compliance"))).scalar_one()
    assert (review.reviewer_account_id, review.reviewed_by) == (account.id, "compliance 様（compliance）")
    [line] = await _register(portal, "access.reviewed")
    assert "compliance 様（compliance）" in line and "問題なし" in line
