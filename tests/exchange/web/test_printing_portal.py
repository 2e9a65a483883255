"""Print logs and sealed notices end to end (C-17, C-03): the printer uploads a log on the portal, sees the reprint
it must explain, staff see it, ``handover report print`` lists it, the reason given on the portal closes it; the
printer records a delivery of sealed notices and staff confirm it; staff record paper hand-overs on the portal and
the command line; every step is a line of ``handover report handover``."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import FormData
from click.testing import CliRunner, Result
from sqlalchemy import select

from exchange.cli import main
from ledger.models.audit import AuditEvent
from ledger.models.inbound import InboundFile
from ledger.models.registers import NoticeDelivery, PrintFinding
from tests.exchange.web.portal import Portal
from tests.factories import add_package

HEADER = "印刷元コンピュータ名,印刷日時,印刷ファイル名,印刷先プリンタ名,印刷枚数"
REPRINTED = (
    f"{HEADER}\r\n"
    "PC-01,2026/08/03 10:15:00,C:\\spool\\通知書_印刷データ.csv,PRN-A3,10\r\n"
    "PC-01,2026/08/03 13:02:00,通知書_印刷データ.csv,PRN-A3,2\r\n"
)


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


async def _report(config: Path, kind: str, out: Path) -> list[list[str]]:
    result = await _cli(config, "report", kind, "--contract", "main", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = (await asyncio.to_thread(out.read_bytes)).decode("utf-8-sig")
    # Without the header, and without the first column (the contract's code): the columns of the report.
    return [row[1:] for row in list(csv.reader(io.StringIO(text)))[1:]]


def _upload(csrf: str, content: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "print_log")
    form.add_field("file", content, filename=name, content_type="text/csv")
    return form


async def _deliver_print_data(portal: Portal) -> None:
    async with portal.maker.begin() as session:
        await add_package(
            session,
            "main",
            delivered_at=datetime(2026, 8, 1, tzinfo=UTC),
            zip_name="通知書.zip",
            content={"files": [{"name": "通知書_印刷データ.csv", "size": 10, "sha256": "0" * 64, "records": 10}]},
        )


async def test_a_reprint_without_a_reason_is_shown_reported_and_closed_by_the_printers_reason(
    portal: Portal, db_url: str, tmp_path: Path
) -> None:
    await _deliver_print_data(portal)
    config = _config(portal, db_url)
    contract = portal.world.contracts["main"].public_id
    csrf = await portal.login("a-handler")

    # A log in the wrong shape is refused with what is missing, and is not kept as submitted.
    wrong = await portal.client.post(
        f"/contracts/{contract}/inbound", data=_upload(csrf, "印刷日時,印刷ファイル名\r\nx,y\r\n".encode(), "log.csv")
    )
    text = await wrong.text()
    assert wrong.status == 422, text
    assert "印刷ログを受け付けませんでした" in text and "印刷元コンピュータ名、印刷先プリンタ名、印刷枚数" in text
    async with portal.maker() as session:
        assert list(await session.scalars(select(InboundFile))) == []
    stored = await asyncio.to_thread(lambda: [p for p in (portal.blobs.root / "uploads").rglob("*") if p.is_file()])
    assert stored == []

    uploaded = await portal.client.post(
        f"/contracts/{contract}/inbound", data=_upload(csrf, REPRINTED.encode("cp932"), "8月印刷ログ.csv")
    )
    assert uploaded.status == 200 and str(uploaded.url).endswith("/inbound"), await uploaded.text()
    printer_page = await (await portal.client.get(f"/contracts/{contract}/printing")).text()
    assert "重複印刷 通知書_印刷データ.csv（2回目まで、理由未記載）" in printer_page
    assert "理由を記録する" in printer_page

    # Another contractor's person does not see the contract's findings.
    await portal.login("c-handler")
    assert (await portal.client.get(f"/contracts/{contract}/printing")).status == 404

    await portal.login("staff-same")
    staff_page = await (await portal.client.get(f"/staff/contracts/{contract}/printing")).text()
    assert "重複印刷 通知書_印刷データ.csv" in staff_page and "理由未記載" in staff_page
    assert "8月印刷ログ.csv（" in staff_page
    await portal.login("staff-other")
    assert (await portal.client.get(f"/staff/contracts/{contract}/printing")).status == 404

    rows = await _report(config, "print", tmp_path / "print.csv")
    assert [(row[2], row[3], row[4], row[9]) for row in rows if row[2] == "重複印刷"] == [
        ("重複印刷", "通知書_印刷データ.csv", "2", "理由未記載")
    ]
    waiting = await _cli(config, "printing", "findings", "--contract", "main")
    assert "重複印刷 通知書_印刷データ.csv" in waiting.output

    csrf = await portal.login("a-handler")
    async with portal.maker() as session:
        finding = (await session.scalars(select(PrintFinding))).one()
    empty = await portal.client.post(
        f"/contracts/{contract}/print-findings/{finding.public_id}/reason", data={"csrf_token": csrf, "reason": " "}
    )
    assert empty.status == 400 and "理由が空です" in await empty.text()
    given = await portal.client.post(
        f"/contracts/{contract}/print-findings/{finding.public_id}/reason",
        data={"csrf_token": csrf, "reason": "用紙詰まりのため2枚を再印刷"},
        allow_redirects=False,
    )
    assert given.status == 303, await given.text()
    again = await portal.client.post(
        f"/contracts/{contract}/print-findings/{finding.public_id}/reason",
        data={"csrf_token": csrf, "reason": "別の理由"},
    )
    assert again.status == 400 and "記録済み" in await again.text()

    closed = await _cli(config, "printing", "findings", "--contract", "main")
    assert "理由の記入を待つ指摘事項はありません" in closed.output
    rows = await _report(config, "print", tmp_path / "print2.csv")
    assert [(row[3], row[6], row[9]) for row in rows] == [
        ("通知書_印刷データ.csv", "用紙詰まりのため2枚を再印刷", "理由あり")
    ]
    register = await _report(config, "handover", tmp_path / "register.csv")
    contents = [row[5] for row in register]
    assert "印刷ログ 8月印刷ログ.csv（2件、12枚）" in contents
    assert "重複印刷 通知書_印刷データ.csv（2回目まで、理由: 用紙詰まりのため2枚を再印刷）" in contents
    async with portal.maker() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.outcome == "allowed")))
    assert "printlog.reason" in actions


async def test_sealed_notices_delivered_confirmed_and_paper_hand_overs_recorded(
    portal: Portal, db_url: str, tmp_path: Path
) -> None:
    config = _config(portal, db_url)
    contract = portal.world.contracts["main"].public_id
    csrf = await portal.login("a-handler")
    missing = await portal.client.post(
        f"/contracts/{contract}/notice-deliveries",
        data={"csrf_token": csrf, "delivered_on": "2026-08-20", "quantity": "0", "delivered_by": "配送 次郎"},
    )
    assert missing.status == 400 and "数量は1以上" in await missing.text()
    recorded = await portal.client.post(
        f"/contracts/{contract}/notice-deliveries",
        data={"csrf_token": csrf, "delivered_on": "2026-08-20", "quantity": "8,500", "delivered_by": "配送 次郎"},
        allow_redirects=False,
    )
    assert recorded.status == 303, await recorded.text()
    async with portal.maker() as session:
        delivery = (await session.scalars(select(NoticeDelivery))).one()
    confirm_url = f"/staff/contracts/{contract}/notice-deliveries/{delivery.public_id}/confirm"
    # The printer cannot confirm its own delivery.
    assert (await portal.client.post(confirm_url, data={"csrf_token": csrf})).status in (403, 404)

    csrf = await portal.login("staff-same")
    page = await (await portal.client.get(f"/staff/contracts/{contract}/printing")).text()
    assert "配送 次郎" in page and "納品を確認する" in page
    confirmed = await portal.client.post(
        confirm_url, data={"csrf_token": csrf, "quantity": "8499"}, allow_redirects=False
    )
    assert confirmed.status == 303, await confirmed.text()
    twice = await _cli(config, "printing", "confirm", delivery.public_id, "--by", "staff-same")
    assert twice.exit_code == 2 and "確認済み" in twice.stderr

    handler = portal.world.people["a-handler"]
    paper = await portal.client.post(
        f"/staff/contracts/{contract}/paper-handovers",
        data={
            "csrf_token": csrf,
            "direction": "from_contractor",
            "person": handler.public_id,
            "channel": "paper",
            "handed_on": "2026-08-21",
            "content": "訪問調査票",
            "quantity": "12",
        },
        allow_redirects=False,
    )
    assert paper.status == 303, await paper.text()
    refused = await _cli(
        config, "printing", "paper", "main", "--direction", "to_contractor", "--by", "staff-other",
        "--counterpart", "a-handler", "--date", "2026-08-22", "--content", "訪問調査票（控え）", "--quantity", "3",
    )  # fmt: skip
    assert refused.exit_code == 2 and "職員ではありません" in refused.stderr
    by_cli = await _cli(
        config, "printing", "paper", "main", "--direction", "to_contractor", "--by", "staff-same",
        "--counterpart", "a-handler", "--date", "2026-08-22", "--content", "訪問調査票（控え）", "--quantity", "3",
        "--channel", "in_person",
    )  # fmt: skip
    assert by_cli.exit_code == 0, by_cli.stderr
    listed = await _cli(config, "printing", "deliveries", "main")
    assert "確認済み" in listed.output and "8,500通" in listed.output

    staff = f"{portal.world.people['staff-same'].name}（staff-same）"
    register = await _report(config, "handover", tmp_path / "register.csv")
    lines = [(row[2], row[3], row[4], row[5], row[6], row[7]) for row in register]
    # The delivery line shows in 確認 who confirmed it, as a provided package shows its receipt.
    [delivered] = [row for row in register if row[5].startswith("封入封緘済み通知書の納品（")]
    assert delivered[8].startswith(f"{staff} 令和")
    assert (
        "納品",
        "配送 次郎",
        "生活福祉課",
        f"封入封緘済み通知書の納品（納品日 令和8年8月20日、記録者 {handler.name}）",
        "通知書 8,500通",
        "対面",
    ) in lines
    assert (
        "納品",
        "配送 次郎",
        staff,
        "封入封緘済み通知書の納品確認（納品日 令和8年8月20日、納品記録の8,500通と相違）",
        "通知書 8,499通",
        "対面",
    ) in lines
    assert (
        "受領",
        f"{handler.name}（a-handler）",
        staff,
        "訪問調査票（受渡日 令和8年8月21日）",
        "書類 12件",
        "紙",
    ) in lines
    assert (
        "提供",
        staff,
        f"{handler.name}（a-handler）",
        "訪問調査票（控え）（受渡日 令和8年8月22日）",
        "書類 3件",
        "対面",
    ) in lines
