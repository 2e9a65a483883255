"""The compliance officer's access log (C-11): who did what, by name and in Japanese, filtered by period (JST days),
person and action, and exported as CSV (UTF-8 with BOM, Japanese headers) with the same filter.

Read-only like ``exchange.web.compliance``; the export is itself an audit event, committed before the bytes go.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from exchange.identity.action_labels import ACTION_LABELS, OUTCOME_LABELS, action_label
from exchange.identity.audit_log import AuditAction
from exchange.web.compliance import _allowed
from exchange.web.context import Page, page
from exchange.web.responses import content_disposition
from ledger.models.audit import AuditEvent
from ledger.models.parties import Account, Party, Person
from ledger.reports.model import neutralise
from ledger.wareki import format_jst, jst_midnight

PAGE_LIMIT: Final = 500
CSV_LIMIT: Final = 100_000
CSV_HEADERS: Final = ("日時（日本時間）", "氏名", "ログインID", "所属", "接続元", "操作", "対象の種類", "対象", "結果")


class BadFilter(ValueError):
    """A filter field the page cannot read; the message is Japanese."""


@dataclass(frozen=True)
class AuditFilter:
    date_from: date | None = None
    date_to: date | None = None
    person_id: int | None = None
    action: str | None = None

    def describe(self) -> str:
        parts = [f"{self.date_from or ''}～{self.date_to or ''}" if self.date_from or self.date_to else "全期間"]
        if self.action:
            parts.append(action_label(self.action))
        return " ".join(parts)


def _day(query: Mapping[str, str], key: str, label: str) -> date | None:
    text = query.get(key, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{label}は YYYY-MM-DD の形で入力してください（{text}）。") from None


def read_filter(query: Mapping[str, str]) -> AuditFilter:
    """The page's GET fields as a filter; a malformed one is refused with what to fix."""
    start, end = _day(query, "from", "期間の開始"), _day(query, "to", "期間の終了")
    if start and end and start > end:
        raise BadFilter("期間の開始が終了より後です。")
    person = query.get("person", "").strip()
    if person and not person.isdigit():
        raise BadFilter("担当者を一覧から選んでください。")
    action = query.get("action", "").strip()
    if action and action not in ACTION_LABELS:
        raise BadFilter("操作を一覧から選んでください。")
    return AuditFilter(start, end, int(person) if person else None, action or None)


def _statement(flt: AuditFilter, limit: int) -> Select[AuditEvent, str, str, str]:
    """Events newest first, with the person's name, the account's login and the party's name (outer joins: an
    anonymous failed login has none of them, and a removed account leaves its events behind)."""
    person, account, party = aliased(Person), aliased(Account), aliased(Party)
    query = (
        select(AuditEvent, person.name, account.login, party.name)
        .outerjoin(person, AuditEvent.person_id == person.id)
        .outerjoin(account, AuditEvent.account_id == account.id)
        .outerjoin(party, AuditEvent.party_id == party.id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if flt.date_from is not None:
        query = query.where(AuditEvent.at >= jst_midnight(flt.date_from))
    if flt.date_to is not None:
        query = query.where(AuditEvent.at < jst_midnight(flt.date_to + timedelta(days=1)))
    if flt.person_id is not None:
        query = query.where(AuditEvent.person_id == flt.person_id)
    if flt.action is not None:
        query = query.where(AuditEvent.action == flt.action)
    return query


@dataclass(frozen=True)
class Line:
    at: str
    name: str
    login: str
    party: str
    source_ip: str
    action: str
    object_type: str
    object_id: str
    outcome: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.at,
            self.name,
            self.login,
            self.party,
            self.source_ip,
            self.action,
            self.object_type,
            self.object_id,
            self.outcome,
        )


OBJECT_TYPES: Final = {
    "package": "データ",
    "contract": "契約",
    "account": "アカウント",
    "contractor_certificate": "消去証明書",
    "hub_deletion_certificate": "ハブ消去証明書",
    "access_review": "アクセスログ分析結果",
    "audit_log": "アクセスログ",
}


async def _lines(ctx: Page, flt: AuditFilter, limit: int) -> list[Line]:
    rows = (await ctx.session.execute(_statement(flt, limit))).all()
    return [
        Line(
            at=format_jst(event.at, seconds=True),
            name=name or "—",
            login=login or "",
            party=party or "",
            source_ip=event.source_ip or "",
            action=action_label(event.action),
            object_type=OBJECT_TYPES.get(event.object_type or "", event.object_type or ""),
            object_id=event.object_id or "",
            outcome=OUTCOME_LABELS.get(event.outcome, event.outcome),
        )
        for event, name, login, party in rows
    ]


def _csv(lines: Sequence[Line]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    writer.writerows([neutralise(cell) for cell in line.cells()] for line in lines)
    return buffer.getvalue().encode("utf-8-sig")


async def access_log(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        people = (await ctx.session.execute(select(Person.id, Person.name, Person.code).order_by(Person.code))).all()
        context: dict[str, Any] = {
            "query": request.query,
            "people": people,
            "actions": sorted(ACTION_LABELS.items(), key=lambda item: item[1]),
            "error": None,
            "lines": [],
            "limit": PAGE_LIMIT,
        }
        try:
            flt = read_filter(request.query)
        except BadFilter as refused:
            return ctx.render("compliance_audit.html", {**context, "error": str(refused)}, status=400)
        context["lines"] = await _lines(ctx, flt, PAGE_LIMIT)
        return ctx.render("compliance_audit.html", context)


async def access_log_csv(request: web.Request) -> web.StreamResponse:
    async with page(request, view=False) as ctx:
        await _allowed(ctx)
        try:
            flt = read_filter(request.query)
        except BadFilter as refused:
            raise web.HTTPBadRequest(text=str(refused)) from None
        lines = await _lines(ctx, flt, CSV_LIMIT)
        ctx.audit(
            AuditAction.COMPLIANCE_REPORT_DOWNLOAD,
            object_type="audit_log",
            detail={"kind": "audit_log", "query": dict(request.query), "rows": len(lines)},
        )
        await ctx.session.commit()
    return web.Response(
        body=_csv(lines),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": content_disposition(f"アクセスログ_{flt.describe()}.csv", "audit_log.csv"),
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/compliance/audit", access_log)
    app.router.add_get("/compliance/audit.csv", access_log_csv)
