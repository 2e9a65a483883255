"""Login details an LGWAN-ASP provider gives the ward out of band (C-22): page address, login ID and password.

They arrive by hand, registered mail or voice, like the hub's own invitation letters, and are recorded here: who
at the ward received them (a ward staff person code), when and how. The password is sealed with the hub's master
key at once (``exchange.keys.sealing``, bound to the record's public id) and never written as text, to the
database, the register or a log. Recording the same name again replaces the earlier record (a rotated password)
and keeps it as history. ``rotate_due_on`` feeds the reminder duty (``exchange.duties.credential_rotation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity.invitations import HandoverMethod
from exchange.keys import sealing
from ledger.models.credentials import ProviderCredential
from ledger.models.parties import Person
from ledger.registers import handlers
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date

# The same out-of-band ways as the hub's own invitation letters (C-22).
METHODS = tuple(m.value for m in (HandoverMethod.BY_HAND, HandoverMethod.REGISTERED_MAIL, HandoverMethod.VOICE))


class CredentialError(ValueError):
    """The login details cannot be recorded; the message is Japanese, for the member of staff."""


@dataclass(frozen=True)
class Received:
    name: str
    provider: str
    page_url: str
    login_id: str
    password: str
    method: str
    received_at: datetime
    rotate_every_days: int = 90


def password_aad(public_id: str) -> bytes:
    """What the sealed password is bound to: a sealed value copied onto another record does not open."""
    return f"provider-credential:{public_id}".encode()


async def record_received(
    session: AsyncSession, keyring: sealing.Keyring, received: Received, *, staff_code: str, now: datetime
) -> ProviderCredential:
    """Record login details received by ward staff member ``staff_code``; the password is sealed at once."""
    if received.method not in METHODS:
        raise CredentialError(f"受領方法は {'・'.join(METHODS)} のいずれかを指定してください。")
    if not received.password:
        raise CredentialError("パスワードが空です。")
    if not received.page_url.startswith(("https://", "http://")):
        raise CredentialError("ページのアドレスは https:// で始まる形で入力してください。")
    if received.received_at > now:
        raise CredentialError("受領日時が未来になっています。")
    try:
        staff = await handlers.any_ward_staff(session, staff_code)
    except handlers.NotAllowedHandler as exc:
        raise CredentialError(str(exc)) from None
    section = await session.scalar(select(Person.section).where(Person.code == staff_code))
    await session.execute(
        update(ProviderCredential)
        .where(ProviderCredential.name == received.name, ProviderCredential.replaced_at.is_(None))
        .values(replaced_at=now)
    )
    row = ProviderCredential(
        name=received.name,
        provider=received.provider,
        page_url=received.page_url,
        login_id=received.login_id,
        sealed_password=b"",
        key_id=keyring.current.key_id,
        method=received.method,
        received_by=staff.label,
        received_at=received.received_at,
        section=section,
        rotate_every_days=received.rotate_every_days,
        rotate_due_on=jst_date(received.received_at) + timedelta(days=received.rotate_every_days),
        recorded_at=now,
    )
    session.add(row)
    await session.flush()  # the public id is the sealing's associated data
    sealed = sealing.seal(keyring.current, received.password.encode(), password_aad(row.public_id))
    row.sealed_password = sealed.to_bytes()
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PROVIDER_CREDENTIALS_RECEIVED,
            category=Category.ADMIN,
            content=f"LGWAN-ASP のログイン情報の受領（{received.provider}、{received.name}）",
            handler_from=received.provider,
            handler_to=staff.label,
            channel=received.method,
            details={
                "credential": row.public_id,
                "name": received.name,
                "page_url": received.page_url,
                "login_id": received.login_id,
                "received_at": received.received_at,
                "received_by": staff.details(),
                "rotate_due_on": row.rotate_due_on,
            },
        ),
    )
    return row


async def current(session: AsyncSession) -> list[ProviderCredential]:
    """The login details in use (not replaced), by name."""
    rows = await session.scalars(
        select(ProviderCredential).where(ProviderCredential.replaced_at.is_(None)).order_by(ProviderCredential.name)
    )
    return list(rows)
