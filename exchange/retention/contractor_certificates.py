"""Contractors' deletion certificates (消去証明書, C-04): requests, submissions, coverage, reminders, escalation.

When a contract ends (or on demand) the hub requests a certificate from the party of that contract and of each of
its sub-contracts that received data through the hub. A submission names the packages it covers; a party can only
certify packages it received. Coverage is checked over the whole contract family: every package any party in it
received must be covered by that party's own certificate, so a missing package and a sub-contractor that never
answered both show. Overdue requests are escalated to ward staff (a ward notice and the duty's result). Coverage
is read by ``ledger.reports.deletion``, the deletion report's own rows, so the report and this duty agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
from ledger.canonical import format_timestamp
from ledger.models.contracts import Contract
from ledger.models.duties import NoticeAudience
from ledger.models.packages import Package
from ledger.models.retention import (
    CertificateRequest,
    ContractorCertificate,
    ContractorCertificatePackage,
    ErasureMethod,
)
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports.deletion import METHODS_JA, Coverage, coverage, coverage_lines, family
from ledger.wareki import jst_date, to_wareki

REMIND_BEFORE = timedelta(days=7)
OVERDUE_REMINDER_EVERY = timedelta(days=7)


class SubmissionRefused(ValueError):
    """A submission that cannot be accepted; the message is for the person who submitted it."""


@dataclass(frozen=True)
class Submission:
    """What a certificate states, after NIST SP 800-88 Rev. 1 Appendix G (the serial only where the medium has one)."""

    package_ids: Sequence[str]  # public ids
    method: ErasureMethod
    erased_on: date
    media: str
    operator: str
    verifier: str
    submitted_by: str | None = None
    scan_path: str | None = None
    method_detail: str = ""
    tool: str = ""
    verification_method: str = ""
    verification_result: str = ""
    media_type: str = ""
    media_serial: str = ""


# The Appendix G facts a certificate must state, with the words the refusal uses for each.
REQUIRED_FACTS = (
    ("media_type", "媒体の種類"),
    ("media", "媒体"),
    ("method_detail", "消去の方法（詳細）"),
    ("tool", "使用したツールと版"),
    ("verification_method", "検証の方法"),
    ("verification_result", "検証の結果"),
    ("operator", "作業者"),
    ("verifier", "確認者"),
)


def _check_facts(form: Submission) -> None:
    missing = [label for key, label in REQUIRED_FACTS if not str(getattr(form, key)).strip()]
    if missing:
        raise SubmissionRefused(f"{'・'.join(missing)}を入力してください。")


def _check_erased_after_delivery(form: Submission, packages: Sequence[Package]) -> None:
    """Data cannot have been erased before it was delivered: such a date is a typing error or a false statement."""
    delivered = [(jst_date(p.delivered_at), p.zip_name) for p in packages if p.delivered_at is not None]
    early = sorted(item for item in delivered if form.erased_on < item[0])
    if early:
        on, name = early[-1]
        raise SubmissionRefused(
            f"消去日（{to_wareki(form.erased_on)}）が、データ「{name}」の提供日（{to_wareki(on)}）より前です。"
            "提供を受けた日以降の消去日を入力してください。"
        )


async def received(session: AsyncSession, contract_id: int) -> list[Package]:
    """Packages the contract's party received: every package delivered under the contract."""
    return list(
        (
            await session.scalars(
                select(Package)
                .where(Package.contract_id == contract_id, Package.delivered_at.is_not(None))
                .order_by(Package.id)
            )
        ).all()
    )


async def request_certificates(
    session: AsyncSession, contract: Contract, now: datetime, *, reason: str, due_days: int
) -> tuple[list[CertificateRequest], list[NewNotice]]:
    """Request a certificate from every party of the family that received data and has no request yet."""
    created, notices = [], []
    for member in await family(session, contract):
        packages = await received(session, member.id)
        if not packages:
            continue
        if await session.scalar(select(CertificateRequest.id).where(CertificateRequest.contract_id == member.id)):
            continue
        request = CertificateRequest(
            contract_id=member.id,
            party_id=member.party_id,
            reason=reason,
            requested_at=now,
            due_at=now + timedelta(days=due_days),
        )
        session.add(request)
        await session.flush()
        created.append(request)
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.CERTIFICATE_REQUESTED,
                category=Category.ERASED,
                content=f"消去証明書の提出を依頼（{len(packages)}件、期限 {to_wareki(request.due_at)}）",
                contract_id=member.public_id,
                handler_from="system",
                quantity={"packages": len(packages)},
                details={"request_id": request.public_id, "reason": reason},
            ),
        )
        notice = await notify(
            session,
            kind=NoticeKind.CERTIFICATE_REQUESTED,
            subject_id=request.public_id,
            occasion="requested",
            audience=NoticeAudience.CONTRACTOR,
            contract=member,
            subject="消去証明書の提出のお願い",
            message_ja=(
                f"契約「{member.name}」で受け取ったデータ{len(packages)}件を消去し、"
                f"{to_wareki(request.due_at)}までに消去証明書を提出してください。"
            ),
        )
        notices += [notice] if notice else []
    return created, notices


async def submit(session: AsyncSession, request_id: str, form: Submission, now: datetime) -> Coverage:
    """Record a submitted certificate and return the family's coverage afterwards."""
    request = await session.scalar(
        select(CertificateRequest)
        .where(CertificateRequest.public_id == request_id)
        .options(selectinload(CertificateRequest.contract))
    )
    if request is None:
        raise SubmissionRefused("消去証明書の依頼が見つかりません。")
    own = {package.public_id: package for package in await received(session, request.contract_id)}
    foreign = sorted(set(form.package_ids) - set(own))
    if foreign:
        raise SubmissionRefused(f"この契約で受け取っていないデータは証明できません：{', '.join(foreign)}")
    if not form.package_ids:
        raise SubmissionRefused("消去したデータを1件以上選んでください。")
    if form.erased_on > jst_date(now):
        raise SubmissionRefused("消去日に未来の日付は指定できません。")
    _check_erased_after_delivery(form, [own[package_id] for package_id in form.package_ids])
    _check_facts(form)
    certificate = ContractorCertificate(
        request_id=request.id,
        party_id=request.party_id,
        submitted_at=now,
        method=form.method,
        erased_on=form.erased_on,
        media=form.media,
        operator=form.operator,
        verifier=form.verifier,
        scan_path=form.scan_path,
        submitted_by=form.submitted_by,
        method_detail=form.method_detail.strip(),
        tool=form.tool.strip(),
        verification_method=form.verification_method.strip(),
        verification_result=form.verification_result.strip(),
        media_type=form.media_type.strip(),
        media_serial=form.media_serial.strip() or None,
    )
    session.add(certificate)
    await session.flush()
    for package_id in sorted(set(form.package_ids)):
        session.add(ContractorCertificatePackage(certificate_id=certificate.id, package_id=own[package_id].id))
    await session.flush()
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.CERTIFICATE_SUBMITTED,
            category=Category.ERASED,
            content=(
                f"消去証明書を受領（{METHODS_JA[form.method]}、{to_wareki(form.erased_on)}消去、"
                f"{len(set(form.package_ids))}件、依頼番号 {request.public_id}）"
            ),
            contract_id=request.contract.public_id,
            handler_from=form.submitted_by or form.operator,
            handler_to="ward",
            quantity={"packages": len(set(form.package_ids))},
            details={
                "certificate_id": certificate.public_id,
                "request_id": request.public_id,
                "operator": form.operator,
                "verifier": form.verifier,
                "media": form.media,
                "media_type": certificate.media_type,
                "media_serial": certificate.media_serial,
                "tool": certificate.tool,
                "verification_result": certificate.verification_result,
            },
        ),
    )
    await _complete_if_covered(session, request, now)
    return await coverage(session, request.contract)


async def _complete_if_covered(session: AsyncSession, request: CertificateRequest, now: datetime) -> bool:
    if request.completed_at is not None:
        return True
    lines = await coverage_lines(session, request.contract)
    if any(line.certificate_id is None for line in lines):
        return False
    request.completed_at = now
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.CERTIFICATE_COMPLETED,
            category=Category.ERASED,
            content="受け取った全データの消去証明書がそろいました。",
            contract_id=request.contract.public_id,
            handler_from="system",
            quantity={"packages": len(lines)},
            details={"request_id": request.public_id},
        ),
    )
    return True


async def remind(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *, due_days: int, mailer: Mailer | None
) -> dict[str, Any]:
    """The daily duty: request at contract end, remind before the due date, escalate and remind when overdue."""
    today = jst_date(now)
    notices: list[NewNotice] = []
    escalated: list[str] = []
    async with sessions() as session, session.begin():
        ended = (
            await session.scalars(
                select(Contract).where(Contract.ends_on < today).options(selectinload(Contract.party))
            )
        ).all()
        requested = 0
        for contract in ended:
            created, new = await request_certificates(session, contract, now, reason="contract_end", due_days=due_days)
            requested += len(created)
            notices += new
        open_requests = (
            await session.scalars(
                select(CertificateRequest)
                .where(CertificateRequest.completed_at.is_(None))
                .options(selectinload(CertificateRequest.contract).selectinload(Contract.party))
            )
        ).all()
        for request in open_requests:
            if await _complete_if_covered(session, request, now):
                continue
            notices += await _remind_one(session, request, now, escalated)
    sent = await send_emails(sessions, notices, mailer)
    return {"requested": requested, "notices": len(notices), "escalated": escalated, "emailed": sent}


async def _remind_one(
    session: AsyncSession, request: CertificateRequest, now: datetime, escalated: list[str]
) -> list[NewNotice]:
    contract = request.contract
    due = to_wareki(request.due_at)
    found: list[NewNotice | None] = []
    if request.due_at - REMIND_BEFORE <= now < request.due_at:
        found.append(
            await notify(
                session,
                kind=NoticeKind.CERTIFICATE_REMINDER,
                subject_id=request.public_id,
                occasion="before-due",
                audience=NoticeAudience.CONTRACTOR,
                contract=contract,
                subject="消去証明書の提出期限が近づいています",
                message_ja=f"契約「{contract.name}」の消去証明書の提出期限は{due}です。",
            )
        )
    if now >= request.due_at:
        escalated.append(request.public_id)
        week = (now - request.due_at) // OVERDUE_REMINDER_EVERY
        found.append(
            await notify(
                session,
                kind=NoticeKind.CERTIFICATE_REMINDER,
                subject_id=request.public_id,
                occasion=f"overdue-{week}",
                audience=NoticeAudience.CONTRACTOR,
                contract=contract,
                subject="消去証明書が提出されていません",
                message_ja=f"契約「{contract.name}」の消去証明書の提出期限（{due}）を過ぎています。至急提出してください。",
            )
        )
        escalation = await notify(
            session,
            kind=NoticeKind.CERTIFICATE_OVERDUE,
            subject_id=request.public_id,
            occasion="overdue",
            audience=NoticeAudience.WARD,
            contract=contract,
            subject="【要対応】消去証明書の提出期限超過",
            message_ja=(
                f"{contract.party.name}（契約「{contract.name}」）の消去証明書が期限（{due}）を過ぎても"
                "提出されていません。委託先へ督促し、対応を記録してください。"
            ),
        )
        if escalation is not None:
            found.append(escalation)
            await record(
                session,
                RegisterEntry(
                    kind=RegisterKind.CERTIFICATE_OVERDUE,
                    category=Category.ERASED,
                    content=f"消去証明書の提出期限超過を職員へ通知（期限 {due}）",
                    contract_id=contract.public_id,
                    handler_from="system",
                    details={"request_id": request.public_id, "due_at": format_timestamp(request.due_at)},
                ),
            )
    return [notice for notice in found if notice is not None]
