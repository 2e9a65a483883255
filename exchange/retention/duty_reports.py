"""Reports of the duties, in the shared report model (``ledger.reports``): outstanding and completed deletions
per contract family, and access-log findings per fiscal year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exchange.retention import contractor_certificates as contractor_certs
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.oversight import AccessFinding, AccessReview
from ledger.models.parties import Person
from ledger.models.retention import CertificateRequest
from ledger.reports.model import (
    Cell,
    Column,
    Report,
    ReportError,
    Section,
    contract_title,
    wareki_date_cell,
    wareki_datetime_cell,
)
from ledger.reports.model import fiscal_year_label as fy_label

DELETION_COLUMNS = (
    Column("パッケージ", 30),
    Column("受領日時", 18),
    Column("ハブ上の消去", 18),
    Column("消去証明書の依頼期限", 18),
    Column("消去証明書", 24),
    Column("状況", 8),
)
ACCESS_COLUMNS = (
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


async def deletion_report(session: AsyncSession, contract_code: str, *, now: datetime | None = None) -> Report:
    """Every package the family of ``contract_code`` received: erased at the hub? certified by the party?"""
    contract = await session.scalar(
        select(Contract).where(Contract.code == contract_code).options(selectinload(Contract.party))
    )
    if contract is None:
        raise ReportError(f"契約コード「{contract_code}」は登録されていません。")
    sections = []
    for member in await contractor_certs.family(session, contract):
        await session.refresh(member, ["party"])
        request = await session.scalar(select(CertificateRequest).where(CertificateRequest.contract_id == member.id))
        rows: list[tuple[Cell, ...]] = [
            (
                line.zip_name,
                wareki_datetime_cell(line.delivered_at),
                wareki_datetime_cell(line.hub_erased_at) or "未消去",
                wareki_datetime_cell(request.due_at) if request else "未依頼",
                f"{line.method}（{wareki_date_cell(line.erased_on)}消去）" if line.certificate_id else "未提出",
                "完了" if line.certificate_id and line.hub_erased_at else "未了",
            )
            for line in await contractor_certs.coverage_lines(session, member)
        ]
        sections.append(Section(member.code, contract_title(member), rows))
    return Report(
        title="データ消去状況一覧（消去証明書）",
        columns=DELETION_COLUMNS,
        filters=(f"契約: {contract.code} 及びその再委託",),
        sections=tuple(sections),
        created_at=now or utcnow(),
    )


async def access_report(session: AsyncSession, year: int, *, now: datetime | None = None) -> Report:
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
        title="アクセスログ分析結果",
        columns=ACCESS_COLUMNS,
        filters=(f"年度: {fy_label(year)}", *summary),
        sections=(Section(str(year), f"{fy_label(year)}の検出事項（{len(rows)}件）", rows),),
        created_at=now or utcnow(),
    )
