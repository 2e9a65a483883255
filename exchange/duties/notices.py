"""Reminders and escalations written by the duties (portal inbox), with optional e-mail.

A notice is unique per (kind, subject, occasion): a duty that runs again finds it and does not repeat it. The
portal shows contractor notices to that contract's designated people and ward notices (escalations) to staff.
E-mail is sent only when ``settings.smtp`` is configured; the notice is the record either way.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.duties.mail import Mailer
from ledger.models.contracts import Contract, Designation, Program
from ledger.models.duties import DutyNotice, NoticeAudience
from ledger.models.parties import Party, PartyKind, Person, PersonRole

log = logging.getLogger(__name__)


class NoticeKind(enum.StrEnum):
    """What a duty reminds of or escalates; with the subject and occasion it makes a notice unique."""

    RETURN_OVERDUE = "return.overdue"  # a printed password notice not returned by its due date (C-04)
    MEDIA_OVERDUE = "media.overdue"  # a DVD not returned by its due date (C-21)
    CERTIFICATE_REQUESTED = "certificate.requested"  # a contractor is asked for its deletion certificate (C-04)
    CERTIFICATE_REMINDER = "certificate.reminder"  # the certificate is due soon or late
    CERTIFICATE_OVERDUE = "certificate.overdue"  # escalated to the ward: the certificate is overdue
    INSPECTION_REMINDER = "inspection.reminder"  # this fiscal year's inspection is not yet recorded (C-19)
    INCIDENT_PRELIMINARY = "incident.preliminary"  # the preliminary report to the PPC is due (C-18)
    INCIDENT_FINAL = "incident.final"  # the final report to the PPC is due (C-18)
    INCIDENT_REPORTED = "incident.reported"  # a contractor reported an incident from the portal (C-18)
    CREDENTIAL_ROTATION = "credential.rotation"  # a provider's login (LGWAN-ASP) is due for a new password (C-22)


@dataclass(frozen=True)
class NewNotice:
    id: int
    audience: NoticeAudience
    contract_id: int | None
    subject: str
    message_ja: str


async def notify(
    session: AsyncSession,
    *,
    kind: NoticeKind,
    subject_id: str,
    occasion: str,
    audience: NoticeAudience,
    message_ja: str,
    subject: str,
    contract: Contract | None = None,
) -> NewNotice | None:
    """Record the notice unless it exists already; the new notice (to e-mail after commit), else None."""
    existing = await session.scalar(
        select(DutyNotice.id).where(
            DutyNotice.kind == kind, DutyNotice.subject_id == subject_id, DutyNotice.occasion == occasion
        )
    )
    if existing is not None:
        return None
    notice = DutyNotice(
        kind=kind,
        subject_id=subject_id,
        occasion=occasion,
        audience=audience,
        contract_id=contract.id if contract else None,
        party_id=contract.party_id if contract and audience == NoticeAudience.CONTRACTOR else None,
        message_ja=message_ja,
    )
    session.add(notice)
    await session.flush()
    return NewNotice(notice.id, audience, notice.contract_id, subject, message_ja)


async def _recipients(session: AsyncSession, notice: NewNotice) -> list[str]:
    if notice.audience == NoticeAudience.CONTRACTOR and notice.contract_id is not None:
        query = (
            select(Person.email)
            .join(Designation, Designation.person_id == Person.id)
            .where(Designation.contract_id == notice.contract_id, Designation.revoked_at.is_(None))
        )
    else:
        section = None
        if notice.contract_id is not None:
            section = await session.scalar(
                select(Program.section)
                .join(Contract, Contract.program_id == Program.id)
                .where(Contract.id == notice.contract_id)
            )
        staff = Person.role == PersonRole.COMPLIANCE
        if section is not None:
            staff = staff | ((Person.role == PersonRole.STAFF) & (Person.section == section))
        query = select(Person.email).join(Party, Person.party_id == Party.id).where(Party.kind == PartyKind.WARD, staff)
    return sorted({email for email in (await session.scalars(query)).all() if email})


async def send_emails(
    sessions: async_sessionmaker[AsyncSession], notices: Sequence[NewNotice], mailer: Mailer | None
) -> int:
    """E-mail committed notices; failures are recorded on the notice and do not stop the duty."""
    if mailer is None:
        return 0
    sent = 0
    for notice in notices:
        async with sessions() as session, session.begin():
            row = await session.get(DutyNotice, notice.id)
            assert row is not None
            to = await _recipients(session, notice)
            if not to:
                row.email_error = "宛先（メールアドレス）がありません。"
                continue
            try:
                await mailer.send(to, notice.subject, notice.message_ja)
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.warning("notice %s could not be e-mailed: %s", notice.id, exc)
                row.email_error = str(exc)
                continue
            row.emailed_to = to
            sent += 1
    return sent
