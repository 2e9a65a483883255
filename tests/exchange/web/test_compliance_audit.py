"""The compliance officer's access log and access review in the portal (C-11): names not ids, Japanese labels,
filters by period (JST days), person and action, a CSV export, and the review recorded as the signed-in account."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from exchange.identity.action_labels import ACTION_LABELS
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action
from ledger.models.audit import AuditEvent
from ledger.models.ledger import LedgerEntry
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.parties import Account
from ledger.wareki import JST, fiscal_year
from tests.exchange.web.portal import Portal

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_every_action_has_a_japanese_label() -> None:
    keys = {a.value for a in Action} | {a.value for a in AuditAction}
    assert sorted(keys - set(ACTION_LABELS)) == []
    assert [label for label in ACTION_LABELS.values() if not JAPANESE.search(label)] == []


async def test_audit_page_names_labels_filters_and_csv(portal: Portal) -> None:
    client, world = portal.client, portal.world
    await portal.login("a-handler")
    assert (await client.get(f"/packages/{world.packages['main'].public_id}")).status == 200
    await portal.login("compliance")

    table = (await (await client.get("/compliance/audit")).text()).split("<table", 1)[1]
    assert "a-handler 様" in table and "ログイン" in table and "画面の表示" in table and "a株式会社" in table
    assert "login.succeeded" not in table and "page.view" not in table

    a_handler = world.people["a-handler"].id
    mine = await (await client.get(f"/compliance/audit?person={a_handler}&action=login.succeeded")).text()
    rows = mine.split("<tbody>", 1)[1]
    assert rows.count("<tr>") == 1 and "a-handler 様" in rows and "<td>ログイン</td>" in rows
    today = datetime.now(JST).date()
    empty = await (await client.get(f"/compliance/audit?to={today - timedelta(days=1)}")).text()
    assert "条件に合う記録はありません" in empty
    bad = await client.get("/compliance/audit?from=2026-13-01")
    assert bad.status == 400 and "YYYY-MM-DD" in await bad.text()
    assert (await client.get("/compliance/audit?action=no.such")).status == 400

    response = await client.get(f"/compliance/audit.csv?person={a_handler}&from={today}&to={today}")
    assert response.status == 200 and response.content_type == "text/csv"
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][:3] == ["日時（日本時間）", "氏名", "ログインID"] and len(table) > 2
    assert {row[1] for row in table[1:]} == {"a-handler 様"}
    assert {"ログイン", "画面の表示"} <= {row[5] for row in table[1:]}
    async with portal.maker() as session:
        exports = (
            (await session.execute(select(AuditEvent).where(AuditEvent.object_type == "audit_log"))).scalars().all()
        )
    assert len(exports) == 1 and exports[0].detail["rows"] == len(table) - 1


async def test_access_review_is_the_signed_in_compliance_officer(portal: Portal) -> None:
    client, world = portal.client, portal.world
    now = datetime.now(UTC)
    year = fiscal_year(now.astimezone(JST).date())
    async with portal.maker.begin() as session:
        session.add(
            AccessFinding(
                key="off-hours:portal",
                rule="off_hours",
                fiscal_year=year,
                at=now,
                person_id=world.people["a-handler"].id,
                summary_ja="業務時間外のダウンロード",
                event_ids=[],
                found_at=now,
            )
        )
    csrf = await portal.login("admin")
    page = await (await client.get(f"/compliance/findings?fy={year}")).text()
    assert "業務時間外のダウンロード" in page and "a-handler 様" in page and "確認を記録する" not in page
    denied = await client.post(
        "/compliance/findings/review", data={"csrf_token": csrf, "fy": str(year), "comment": "x"}
    )
    assert denied.status == 403

    csrf = await portal.login("compliance")
    page = await (await client.get("/compliance/findings")).text()
    assert "未確認 1件" in page and "compliance 様として確認を記録する" in page
    blank = await client.post("/compliance/findings/review", data={"csrf_token": csrf, "fy": str(year), "comment": ""})
    assert blank.status == 400 and "所見" in await blank.text()
    done = await client.post(
        "/compliance/findings/review",
        data={"csrf_token": csrf, "fy": str(year), "comment": "業務時間外の作業は事前申請あり", "reviewed_by": "誰か"},
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == f"/compliance/findings?fy={year}"
    async with portal.maker() as session:
        [review] = (await session.execute(select(AccessReview))).scalars().all()
        account = (await session.execute(select(Account).where(Account.login == "compliance"))).scalar_one()
        [line] = (
            await session.execute(select(LedgerEntry.entry).where(LedgerEntry.kind == "access.reviewed"))
        ).scalars()
        events = (await session.execute(select(AuditEvent).where(AuditEvent.action == "access.review"))).scalars()
        outcomes = sorted(e.outcome for e in events)
    assert (review.reviewer_account_id, review.reviewed_by, review.findings_reviewed) == (
        account.id,
        "compliance 様（compliance）",
        1,
    )
    assert "compliance 様（compliance）" in line.decode() and "事前申請あり" in line.decode()
    assert outcomes == ["allowed", "denied", "denied"]
    shown = await (await client.get(f"/compliance/findings?fy={year}")).text()
    assert "確認済み（compliance 様（compliance）" in shown and "未確認 0件" in shown
    assert "compliance 様（ログインID compliance）：1件「業務時間外の作業は事前申請あり」" in shown
