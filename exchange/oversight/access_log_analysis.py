"""Periodic analysis of the audit log (C-11): findings for a person to review, and the record of that review.

Rules, over ``audit_events``: downloads outside business hours (JST, weekdays 8:30–18:00 by default; public
holidays are not known here), downloads by people not designated on the package's contract, downloads beyond a
package's limit, bursts of failed logins (per account or source address), addresses outside the party's
allowlist, and unusual daily download volumes per person. Each finding has a stable key, so analysing the same
events again adds nothing; the daily duty looks back two days, the report analyses its whole fiscal year first.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.identity.acting import display_name
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Principal
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Designation
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.packages import Package
from ledger.models.parties import Party
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import JST, fiscal_year, jst_date, jst_midnight

LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class BusinessHours:
    start: time = time(8, 30)
    end: time = time(18, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    failed_login_burst: int = 5
    burst_window: timedelta = timedelta(minutes=10)
    daily_download_volume: int = 20

    def within(self, moment: datetime) -> bool:
        local = moment.astimezone(JST)
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


def fiscal_year_bounds(year: int) -> tuple[datetime, datetime]:
    return (jst_midnight(date(year, 4, 1)), jst_midnight(date(year + 1, 4, 1)))


def _allowed(address: str | None, allowlist: list[str]) -> bool:
    if not allowlist or not address:
        return True
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(net, strict=False) for net in allowlist)
    except ValueError:
        return False


def _finding(key: str, rule: str, event: AuditEvent, summary: str, now: datetime, ids: list[int]) -> AccessFinding:
    return AccessFinding(
        key=key,
        rule=rule,
        fiscal_year=fiscal_year(event.at),
        at=event.at,
        account_id=event.account_id,
        person_id=event.person_id,
        source_ip=event.source_ip,
        summary_ja=summary,
        event_ids=ids,
        found_at=now,
    )


async def _findings(
    session: AsyncSession, events: list[AuditEvent], hours: BusinessHours, now: datetime
) -> list[AccessFinding]:
    found: list[AccessFinding] = []
    downloads = [e for e in events if e.action == Action.PACKAGE_DOWNLOAD]
    package_ids = {e.object_id for e in downloads if e.object_id}
    packages = {
        p.public_id: p for p in (await session.scalars(select(Package).where(Package.public_id.in_(package_ids)))).all()
    }
    designated = {
        (d.contract_id, d.person_id)
        for d in (await session.scalars(select(Designation).where(Designation.revoked_at.is_(None)))).all()
    }
    allowlists = {p.id: p.ip_allowlist for p in (await session.scalars(select(Party))).all()}
    for event in downloads:
        if not hours.within(event.at):
            found.append(
                _finding(f"off-hours:{event.id}", "off_hours", event, "業務時間外のダウンロード", now, [event.id])
            )
        package = packages.get(event.object_id or "")
        if package is not None and (package.contract_id, event.person_id) not in designated:
            found.append(
                _finding(
                    f"not-designated:{event.id}",
                    "not_designated",
                    event,
                    "取扱者として届出のない者によるダウンロード",
                    now,
                    [event.id],
                )
            )
    for event in events:
        if event.party_id is not None and not _allowed(event.source_ip, allowlists.get(event.party_id, [])):
            found.append(
                _finding(
                    f"ip:{event.id}",
                    "unexpected_ip",
                    event,
                    f"許可されていない接続元 {event.source_ip}",
                    now,
                    [event.id],
                )
            )
    for package_id, package in packages.items():
        allowed = [e for e in downloads if e.object_id == package_id and e.outcome == "allowed"]
        if len(allowed) > package.download_limit:
            extra = allowed[package.download_limit]
            found.append(
                _finding(
                    f"limit:{package_id}",
                    "over_limit",
                    extra,
                    f"ダウンロード上限（{package.download_limit}回）超過",
                    now,
                    [e.id for e in allowed],
                )
            )
    found += _bursts([e for e in events if e.action == AuditAction.LOGIN_FAILED], hours, now)
    found += _volumes([e for e in downloads if e.outcome == "allowed"], hours, now)
    return found


def _bursts(failures: list[AuditEvent], hours: BusinessHours, now: datetime) -> list[AccessFinding]:
    groups: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in failures:
        groups[f"account-{event.account_id}" if event.account_id else f"ip-{event.source_ip}"].append(event)
    found = []
    for who, group in groups.items():
        group.sort(key=lambda e: e.at)
        for i in range(len(group) - hours.failed_login_burst + 1):
            window = group[i : i + hours.failed_login_burst]
            if window[-1].at - window[0].at <= hours.burst_window:
                summary = f"ログイン失敗の集中（{hours.failed_login_burst}回以上）"
                found.append(
                    _finding(
                        f"burst:{who}:{window[0].id}",
                        "failed_login_burst",
                        window[0],
                        summary,
                        now,
                        [e.id for e in window],
                    )
                )
                break
    return found


def _volumes(downloads: list[AuditEvent], hours: BusinessHours, now: datetime) -> list[AccessFinding]:
    days: dict[tuple[int | None, date], list[AuditEvent]] = defaultdict(list)
    for event in downloads:
        days[(event.person_id, jst_date(event.at))].append(event)
    return [
        _finding(
            f"volume:{person}:{day}",
            "unusual_volume",
            group[0],
            f"1日のダウンロードが{len(group)}回",
            now,
            [e.id for e in group],
        )
        for (person, day), group in days.items()
        if len(group) > hours.daily_download_volume
    ]


async def analyse(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, hours: BusinessHours, since: datetime | None = None
) -> dict[str, Any]:
    """Examine events from ``since`` (default: two days back) to ``now``; store findings not seen before."""
    start = since or now - LOOKBACK
    async with sessions() as session, session.begin():
        events = list(
            (
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.at >= start, AuditEvent.at < now).order_by(AuditEvent.id)
                )
            ).all()
        )
        found = await _findings(session, events, hours, now)
        known = set(
            (
                await session.scalars(select(AccessFinding.key).where(AccessFinding.key.in_([f.key for f in found])))
            ).all()
        )
        new = [finding for finding in found if finding.key not in known]
        session.add_all(new)
    counts: dict[str, int] = defaultdict(int)
    for finding in new:
        counts[finding.rule] += 1
    return {"events": len(events), "new_findings": dict(counts)}


async def review(session: AsyncSession, year: int, *, reviewer: Principal, comment: str, now: datetime) -> AccessReview:
    """The compliance officer's review of a fiscal year's findings not reviewed before, as ``reviewer`` (the
    signed-in account, or the account the CLI's ``--by`` names); the caller has authorised ``ACCESS_REVIEW``."""
    comment = comment.strip()
    if not comment:
        raise ValueError("確認の所見（コメント）を入力してください。")
    name = display_name(reviewer)
    pending = (
        await session.scalars(
            select(AccessFinding).where(AccessFinding.fiscal_year == year, AccessFinding.review_id.is_(None))
        )
    ).all()
    row = AccessReview(
        fiscal_year=year,
        reviewed_by=name,
        reviewed_at=now,
        comment=comment,
        findings_reviewed=len(pending),
        reviewer_account_id=reviewer.account_id,
        reviewer_person_id=reviewer.person_id,
    )
    session.add(row)
    await session.flush()
    for finding in pending:
        finding.review_id = row.id
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.ACCESS_REVIEWED,
            category=Category.ADMIN,
            content=f"{year}年度のアクセスログ分析結果（{len(pending)}件）を確認：{comment}",
            handler_from=name,
            quantity={"findings": len(pending)},
            details={"comment": comment, "review_id": row.id, "account_id": reviewer.account_public_id},
        ),
    )
    return row
