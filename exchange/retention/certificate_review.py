"""The ward's review of a contractor's deletion certificate (C-04): accept it (受理) or return it (差戻し).

A returned certificate stops covering its packages (``ledger.reports.deletion`` leaves it out), so the request is
open again until the contractor submits a new one; the contractor sees the reason on its certificate form. Both
decisions are register lines naming the member of staff. Who may decide is asked of
``exchange.identity.authorisation`` by the caller (the portal page or the CLI command).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.identity.acting import display_name, principal_by_code
from exchange.identity.authorisation import Action, contract_scope
from exchange.identity.authorisation import decide as authorise
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.retention import CertificateRequest, CertificateReview, ContractorCertificate
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports.deletion import REVIEWS_JA, family
from ledger.wareki import to_wareki


class ReviewRefused(ValueError):
    """The decision cannot be recorded; the message is for the member of staff."""


async def find_certificate(session: AsyncSession, public_id: str) -> ContractorCertificate:
    """The certificate with its request, contract and party loaded; unknown ids are refused in Japanese."""
    certificate = await session.scalar(
        select(ContractorCertificate)
        .where(ContractorCertificate.public_id == public_id)
        .options(
            selectinload(ContractorCertificate.request)
            .selectinload(CertificateRequest.contract)
            .selectinload(Contract.party)
        )
    )
    if certificate is None:
        raise ReviewRefused(f"消去証明書「{public_id}」が見つかりません。")
    return certificate


async def decide(
    session: AsyncSession,
    certificate: ContractorCertificate,
    *,
    accept: bool,
    by: str,
    comment: str,
    now: datetime,
) -> ContractorCertificate:
    """Accept or return ``certificate`` as ``by`` (the member of staff's name and code); a return needs a reason."""
    comment = comment.strip()
    if certificate.review is not CertificateReview.SUBMITTED:
        raise ReviewRefused(f"この消去証明書は{REVIEWS_JA[certificate.review]}済みです（{certificate.reviewed_by}）。")
    if not accept and not comment:
        raise ReviewRefused("差戻しの理由を入力してください。")
    request = certificate.request
    certificate.review = CertificateReview.ACCEPTED if accept else CertificateReview.RETURNED
    certificate.reviewed_by = by
    certificate.reviewed_at = now
    certificate.review_comment = comment or None
    if not accept:
        # Its packages are uncovered again: the request waits for the new submission (and the reminders resume).
        request.completed_at = None
    erased = f"{to_wareki(certificate.erased_on)}消去、依頼番号 {request.public_id}"
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.CERTIFICATE_ACCEPTED if accept else RegisterKind.CERTIFICATE_RETURNED,
            category=Category.ERASED,
            content=(f"消去証明書を受理（{erased}）" if accept else f"消去証明書を差戻し（{erased}）：{comment}"),
            contract_id=request.contract.public_id,
            handler_from=by,
            handler_to=request.contract.party.name,
            details={"certificate_id": certificate.public_id, "request_id": request.public_id, "comment": comment},
        ),
    )
    return certificate


async def review_as(
    sessions: async_sessionmaker[AsyncSession], certificate_id: str, code: str, comment: str, *, accept: bool
) -> str:
    """The CLI's way in: ``code`` must be a real account allowed to review this contract's certificates."""
    async with sessions() as session, session.begin():
        certificate = await find_certificate(session, certificate_id)
        reviewer = await principal_by_code(session, code)
        scope = await contract_scope(session, certificate.request.contract, utcnow())
        decision = authorise(reviewer, Action.CERTIFICATE_REVIEW, scope)
        if not decision.allowed:
            raise ReviewRefused(decision.reason_ja if not decision.hidden else "この契約の消去証明書は確認できません。")
        by = display_name(reviewer)
        await decide(session, certificate, accept=accept, by=by, comment=comment, now=utcnow())
        return by


async def summary_lines(sessions: async_sessionmaker[AsyncSession], code: str | None) -> list[str]:
    """One line per request (its id, due date, state) and one per submitted certificate (its id and review)."""
    async with sessions() as session:
        query = (
            select(CertificateRequest)
            .options(
                selectinload(CertificateRequest.contract),
                selectinload(CertificateRequest.party),
                selectinload(CertificateRequest.submissions),
            )
            .order_by(CertificateRequest.requested_at, CertificateRequest.id)
        )
        if code is not None:
            contract = await session.scalar(select(Contract).where(Contract.code == code))
            if contract is None:
                raise ReviewRefused(f"契約コード「{code}」は登録されていません。")
            query = query.where(CertificateRequest.contract_id.in_([c.id for c in await family(session, contract)]))
        lines = []
        for request in (await session.scalars(query)).all():
            state = "完了" if request.completed_at else "未了"
            lines.append(
                f"依頼 {request.public_id}  {request.contract.code}  {request.party.name}  "
                f"期限 {to_wareki(request.due_at)}  {state}"
            )
            for certificate in sorted(request.submissions, key=lambda c: c.id):
                review = REVIEWS_JA[certificate.review]
                reason = f"：{certificate.review_comment}" if certificate.review_comment else ""
                lines.append(
                    f"  証明書 {certificate.public_id}  {to_wareki(certificate.erased_on)}消去  "
                    f"{review}{f'（{certificate.reviewed_by}）' if certificate.reviewed_by else ''}{reason}"
                )
        return lines or ["消去証明書の依頼はありません。"]
