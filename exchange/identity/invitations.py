"""Account invitations (C-22): a one-time code printed on a letter delivered by hand or registered mail.

Issuing an invitation (re)creates the person's account in a state where only the code opens it: the old
password is replaced by a random unusable one, any second factor is dropped and earlier unused codes are
revoked. The person enters the code on the portal's invitation page (never in a URL), then must set a password
and a TOTP second factor before the first session starts. Only a hash of the code is stored; the letter is
returned as bytes for the caller to print, not kept.

The hand-over of the letter is itself recorded (C-22): when, by which member of ward staff (a person code), how
(手渡し, 簡易書留 or 口頭) and to whom. Issuing and handing over are register lines of every contract the person
is designated on, so they appear in those contracts' handover registers.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity.accounts import cut_off, hash_password_async, one_time_password
from ledger.documents import letters
from ledger.models.contracts import Contract, Designation
from ledger.models.identity import Invitation, TotpFactor
from ledger.models.parties import Account, Party, Person
from ledger.registers import handlers
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import format_jst, jst_date, to_wareki

VALID_FOR: Final = timedelta(days=14)
# Unambiguous letters and digits (no 0/O, 1/l/I): the code is typed from paper.
CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_GROUPS: Final = 5  # 5 groups of 4 from 32 symbols: 100 bits


class InvitationError(Exception):
    """The person cannot be invited (unknown code, no such person); the message is for the operator."""


class HandoverMethod(enum.StrEnum):
    """How first credentials reach a person out of band (C-22); the values are what the register shows."""

    BY_HAND = "手渡し"
    REGISTERED_MAIL = "簡易書留"
    VOICE = "口頭"


async def _contracts_of(session: AsyncSession, person: Person, now: datetime) -> list[Contract]:
    """The contracts ``person`` is designated on now: their registers get the person's first-credential lines."""
    rows = await session.execute(
        select(Contract)
        .join(Designation, Designation.contract_id == Contract.id)
        .where(Designation.person_id == person.id)
        .where((Designation.revoked_at.is_(None)) | (Designation.revoked_at > now))
        .order_by(Contract.code)
    )
    return list(rows.scalars())


async def _record_per_contract(session: AsyncSession, person: Person, now: datetime, entry: RegisterEntry) -> list[str]:
    """Write ``entry`` once per contract of the person (once without a contract when there is none)."""
    contracts = await _contracts_of(session, person, now)
    for contract in contracts:
        await record(session, replace(entry, contract_id=contract.public_id))
    if not contracts:
        await record(session, entry)
    return [contract.code for contract in contracts]


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_digest(code: str) -> bytes:
    return hashlib.sha256(normalise_code(code).encode()).digest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(4 * CODE_GROUPS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True)
class InvitationLetter:
    issued_at: datetime
    expires_at: datetime
    issuer: str
    party_name: str
    person_name: str
    login: str
    portal_url: str
    code: str = field(repr=False)


async def invite(
    session: AsyncSession, person_code: str, *, issuer: str, portal_url: str, now: datetime
) -> InvitationLetter:
    """Create or reset the person's account and return the letter's content (with the only copy of the code)."""
    person = (await session.execute(select(Person).where(Person.code == person_code))).scalar_one_or_none()
    if person is None:
        raise InvitationError(f"no person with code {person_code!r}")
    party = await session.get(Party, person.party_id)
    assert party is not None
    account = (await session.execute(select(Account).where(Account.person_id == person.id))).scalar_one_or_none()
    unusable = await hash_password_async(one_time_password(32))
    if account is None:
        account = Account(login=person.code, role=person.role, person_id=person.id, password_hash=unusable)
        session.add(account)
        await session.flush()
    account.password_hash = unusable
    account.must_change_password = True
    account.role = person.role
    await session.execute(delete(TotpFactor).where(TotpFactor.account_id == account.id))
    await cut_off(session, account, now=now)  # the old credentials' sessions and API tokens end with them (C-10)
    await session.execute(
        update(Invitation)
        .where(Invitation.account_id == account.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    code = _new_code()
    invitation = Invitation(
        account_id=account.id,
        code_hash=code_digest(code),
        issued_by=issuer,
        created_at=now,
        expires_at=now + VALID_FOR,
    )
    session.add(invitation)
    await session.flush()
    await _record_per_contract(
        session,
        person,
        now,
        RegisterEntry(
            kind=RegisterKind.ACCOUNT_INVITED,
            category=Category.ADMIN,
            content=f"ポータルのログイン情報（招待コード）の発行（{party.name}）",
            handler_from=issuer,
            handler_to=f"{person.name}（{person.code}）",
            channel="letter",
            details={"invitation": invitation.public_id, "account": account.public_id, "login": account.login},
        ),
    )
    return InvitationLetter(
        issued_at=now,
        expires_at=invitation.expires_at,
        issuer=issuer,
        party_name=party.name,
        person_name=person.name,
        login=account.login,
        portal_url=portal_url,
        code=code,
    )


@dataclass(frozen=True)
class HandedOver:
    person: handlers.Handler
    staff: handlers.Handler
    method: HandoverMethod
    at: datetime
    contracts: list[str]


async def record_handover(
    session: AsyncSession, person_code: str, *, staff_code: str, method: HandoverMethod, at: datetime
) -> HandedOver:
    """Record that the person's invitation letter (or code, by voice) reached them: when, by whom, how.

    The person must have an invitation issued and not yet revoked; ``staff_code`` must be ward staff.
    """
    person = (await session.execute(select(Person).where(Person.code == person_code))).scalar_one_or_none()
    if person is None:
        raise InvitationError(f"人物コード「{person_code}」は登録されていません。")
    try:
        staff = await handlers.any_ward_staff(session, staff_code)
    except handlers.NotAllowedHandler as exc:
        raise InvitationError(str(exc)) from None
    invitation = (
        await session.execute(
            select(Invitation)
            .join(Account, Invitation.account_id == Account.id)
            .where(Account.person_id == person.id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if invitation is None:
        raise InvitationError(f"{person.name}（{person.code}）には発行済みの招待がありません。")
    if at < invitation.created_at:
        raise InvitationError("引渡日時が招待の発行日時より前です。")
    party = await session.get(Party, person.party_id)
    assert party is not None  # enforced by the foreign key
    recipient = handlers.Handler(person.code, person.name, person.public_id, party.code)
    contracts = await _record_per_contract(
        session,
        person,
        at,
        RegisterEntry(
            kind=RegisterKind.INVITATION_HANDED_OVER,
            category=Category.ADMIN,
            content=f"ポータルのログイン情報（招待コード）の引渡し（{method.value}、{format_jst(at)}）",
            handler_from=staff.label,
            handler_to=recipient.label,
            channel=method.value,
            details={
                "invitation": invitation.public_id,
                "method": method.value,
                "handed_at": at,
                "handed_by": staff.details(),
                "handed_to": recipient.details(),
            },
        ),
    )
    return HandedOver(recipient, staff, method, at, contracts)


async def find_valid(session: AsyncSession, code: str, now: datetime) -> Invitation | None:
    row = (
        await session.execute(select(Invitation).where(Invitation.code_hash == code_digest(code)))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


async def consume(session: AsyncSession, invitation_id: int, now: datetime) -> bool:
    """Mark the code used; False if another request used or revoked it first."""
    result = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(used_at=now)
        .returning(Invitation.id)
    )
    return result.scalar_one_or_none() is not None


STEPS: Final = (
    "パソコンのブラウザで上記のアドレスを開き、「招待コードで初回設定」を選んでください。",
    "上記の招待コードを入力してください（ハイフンは省略できます）。",
    "新しいパスワード（12文字以上）を設定し、認証アプリ（Google Authenticator 等）に表示される"
    "設定キーを登録して、表示された6桁の確認コードを入力してください。",
    "設定が終わると招待コードは使えなくなります。有効期限を過ぎた場合や紛失した場合は、"
    "区の担当者に再発行を依頼してください。",
    "本書は他人に見せず、初回設定の後は裁断等により復元できない方法で廃棄してください。",
)


def render_letter(letter: InvitationLetter) -> bytes:
    """The invitation letter as a one-page A4 PDF with embedded Japanese fonts."""
    return letters.render_letter(
        letters.Letter(
            issued_on=jst_date(letter.issued_at),
            addressees=(f"{letter.party_name}　御中", f"{letter.person_name}　様"),
            issuer=letter.issuer,
            title="ログイン情報のお知らせ",
            lead="個人情報受渡しポータルの初回設定に必要な情報をお知らせします。",
            details=(
                letters.Detail("アドレス", letter.portal_url, letters.ValueStyle.IDENTIFIER),
                letters.Detail("ログインID", letter.login, letters.ValueStyle.IDENTIFIER),
                letters.Detail("招待コード", letter.code, letters.ValueStyle.SECRET),
                letters.Detail("有効期限", to_wareki(jst_date(letter.expires_at))),
            ),
            steps_heading="初回設定の手順",
            steps=STEPS,
        )
    )
