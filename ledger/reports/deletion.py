"""Rows of the deletion report (データ消去状況一覧, C-04): what a contract family received, erased and certified.

Coverage is read over the whole contract family: every package any party in it received, with the erasure at the
hub and the party's own certificate that covers it (or none). The same reading tells
``exchange.retention.contractor_certificates`` when a request is complete, so the report and the duty can never
disagree about what is still missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.parties import Party
from ledger.models.retention import (
    CertificateRequest,
    CertificateReview,
    ContractorCertificate,
    ContractorCertificatePackage,
    ErasureMethod,
)
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

TITLE = "データ消去状況一覧（消去証明書）"
# NIST SP 800-88 categories as the certificate form and the report name them.
METHODS_JA = {
    ErasureMethod.CLEAR: "消去（Clear）",
    ErasureMethod.PURGE: "除去（Purge）",
    ErasureMethod.DESTROY: "破壊（Destroy）",
}
REVIEWS_JA = {
    CertificateReview.SUBMITTED: "確認待ち",
    CertificateReview.ACCEPTED: "受理",
    CertificateReview.RETURNED: "差戻し",
}
COLUMNS = (
    Column("パッケージ", 20),
    Column("受領日時", 12),
    Column("ハブ上の消去", 12),
    Column("消去証明書の依頼", 16),
    Column("消去証明書", 14),
    Column("方法の詳細・ツール", 16),
    Column("検証の方法・結果", 14),
    Column("媒体（種類・製造番号）", 16),
    Column("作業者・確認者", 12),
    Column("区の確認", 12),
    Column("状況", 6),
)


@dataclass(frozen=True)
class CoverageLine:
    contract_code: str
    party_name: str
    package_id: str
    zip_name: str
    delivered_at: datetime | None
    hub_erased_at: datetime | None
    certificate_id: str | None
    method: str | None
    erased_on: date | None
    certificate: ContractorCertificate | None = None


@dataclass
class Coverage:
    lines: list[CoverageLine] = field(default_factory=list)

    @property
    def missing(self) -> list[CoverageLine]:
        return [line for line in self.lines if line.certificate_id is None]

    @property
    def missing_parties(self) -> list[str]:
        return sorted({line.party_name for line in self.missing})

    @property
    def complete(self) -> bool:
        return bool(self.lines) and not self.missing


async def family(session: AsyncSession, contract: Contract) -> list[Contract]:
    """The contract and every sub-contract below it, parents first."""
    found, frontier = [contract], [contract.id]
    while frontier:
        children = (
            await session.scalars(
                select(Contract).where(Contract.parent_id.in_(frontier)).options(selectinload(Contract.party))
            )
        ).all()
        found += children
        frontier = [child.id for child in children]
    return found


async def coverage_lines(session: AsyncSession, contract: Contract) -> list[CoverageLine]:
    """One contract's delivered packages, each with the first certificate of the contract's own party covering it."""
    rows = (
        await session.execute(
            select(Package, ContractorCertificate)
            .outerjoin(ContractorCertificatePackage, ContractorCertificatePackage.package_id == Package.id)
            .outerjoin(
                ContractorCertificate,
                (ContractorCertificate.id == ContractorCertificatePackage.certificate_id)
                & (ContractorCertificate.party_id == contract.party_id)
                # A returned certificate (差戻し) no longer covers anything: the party must submit again.
                & (ContractorCertificate.review != CertificateReview.RETURNED),
            )
            .where(Package.contract_id == contract.id, Package.delivered_at.is_not(None))
            .order_by(Package.id, ContractorCertificate.id)
        )
    ).all()
    best: dict[int, tuple[Package, ContractorCertificate | None]] = {}
    for package, certificate in rows:
        if best.get(package.id, (package, None))[1] is None:
            best[package.id] = (package, certificate)
    party = (await session.execute(select(Party.name).where(Party.id == contract.party_id))).scalar_one()
    return [
        CoverageLine(
            contract.code,
            party,
            package.public_id,
            package.zip_name,
            package.delivered_at,
            package.deleted_at,
            certificate.public_id if certificate else None,
            certificate.method.value if certificate else None,
            certificate.erased_on if certificate else None,
            certificate,
        )
        for package, certificate in best.values()
    ]


async def coverage(session: AsyncSession, contract: Contract) -> Coverage:
    """Every package every party of the family received, with the certificate that covers it (or none)."""
    result = Coverage()
    for member in await family(session, contract):
        result.lines += await coverage_lines(session, member)
    return result


def _certificate_cells(certificate: ContractorCertificate | None) -> tuple[Cell, ...]:
    """The certificate's Appendix G facts, one cell each; certificates from before those fields show "—"."""
    if certificate is None:
        return ("未提出", "", "", "", "", "")
    dash = "—"
    serial = f"（製造番号 {certificate.media_serial}）" if certificate.media_serial else ""
    review = REVIEWS_JA[certificate.review]
    if certificate.reviewed_by:
        review += f"（{certificate.reviewed_by}）"
    if certificate.review_comment:
        review += f"：{certificate.review_comment}"
    return (
        f"{METHODS_JA[certificate.method]}（{wareki_date_cell(certificate.erased_on)}消去）",
        f"{certificate.method_detail or dash}／{certificate.tool or dash}",
        f"{certificate.verification_method or dash}：{certificate.verification_result or dash}",
        f"{certificate.media_type or dash} {certificate.media}{serial}",
        f"作業 {certificate.operator}／確認 {certificate.verifier}",
        review,
    )


async def build(session: AsyncSession, contract_code: str, *, now: datetime | None = None) -> Report:
    """Every package the family of ``contract_code`` received: erased at the hub? certified by the party?"""
    contract = await session.scalar(
        select(Contract).where(Contract.code == contract_code).options(selectinload(Contract.party))
    )
    if contract is None:
        raise ReportError(f"契約コード「{contract_code}」は登録されていません。")
    sections = []
    for member in await family(session, contract):
        await session.refresh(member, ["party"])
        request = await session.scalar(select(CertificateRequest).where(CertificateRequest.contract_id == member.id))
        asked = f"依頼番号 {request.public_id}／期限 {wareki_datetime_cell(request.due_at)}" if request else "未依頼"
        rows: list[tuple[Cell, ...]] = [
            (
                line.zip_name,
                wareki_datetime_cell(line.delivered_at),
                wareki_datetime_cell(line.hub_erased_at) or "未消去",
                asked,
                *_certificate_cells(line.certificate),
                "完了" if line.certificate_id and line.hub_erased_at else "未了",
            )
            for line in await coverage_lines(session, member)
        ]
        sections.append(Section(member.code, contract_title(member), rows))
    return Report(
        title=TITLE,
        columns=COLUMNS,
        filters=(f"契約: {contract.code} 及びその再委託",),
        sections=tuple(sections),
        created_at=now or utcnow(),
    )
