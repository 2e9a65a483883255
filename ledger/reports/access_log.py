"""Rows of the access-log findings report (C-11): one fiscal year's findings, with who reviewed them and when.

The findings themselves are made by ``exchange.oversight.access_log_analysis``; this module only reads them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import utcnow
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.parties import Person
from ledger.reports.model import Cell, Column, Report, Section, wareki_datetime_cell
from ledger.reports.model import fiscal_year_label as fy_label

TITLE = "アクセスログ分析結果"
COLUMNS = (
    Column("日時", 18),
    Column("種類", 14),
    Column("内容", 36),
    Column("利用者", 14),
    Column("接続元", 14),
    Column("確認", 20),
)
RULES_JA = {
    "off_hours": "時間外",
    "not_designated": "届出外の者",
    "over_limit": "回数超過",
    "failed_login_burst": "ログイン失敗集中",
    "unexpected_ip": "想定外の接続元",
    "unusual_volume": "大量取得",
}


async def build(session: AsyncSession, year: int, *, now: datetime | None = None) -> Report:
    """The fiscal year's findings in time order; the reviews recorded for that year head the report."""
    findings = (
        await session.scalars(
            select(AccessFinding).where(AccessFinding.fiscal_year == year).order_by(AccessFinding.at, AccessFinding.id)
        )
    ).all()
    reviews = {r.id: r for r in (await session.scalars(select(AccessReview).where(AccessReview.fiscal_year == year)))}
    names = {p.id: p.name for p in (await session.scalars(select(Person))).all()}
    rows: list[tuple[Cell, ...]] = []
    for finding in findings:
        review = reviews.get(finding.review_id) if finding.review_id else None
        rows.append(
            (
                wareki_datetime_cell(finding.at),
                RULES_JA.get(finding.rule, finding.rule),
                finding.summary_ja,
                names.get(finding.person_id, "") if finding.person_id else "",
                finding.source_ip or "",
                f"{review.reviewed_by}（{wareki_datetime_cell(review.reviewed_at)}）" if review else "未確認",
            )
        )
    summary = [
        f"確認: {r.reviewed_by} {wareki_datetime_cell(r.reviewed_at)} {r.findings_reviewed}件 「{r.comment}」"
        for r in reviews.values()
    ]
    return Report(
        title=TITLE,
        columns=COLUMNS,
        filters=(f"年度: {fy_label(year)}", *summary),
        sections=(Section(str(year), f"{fy_label(year)}の検出事項（{len(rows)}件）", rows),),
        created_at=now or utcnow(),
    )
