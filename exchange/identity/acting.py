"""The person a staff command acts as (``--by``): a real account, named by its login or its person's code.

Commands that decide something (accept a certificate, review the access log) must name who decided as the portal
does for a signed-in person, so the CLI resolves ``--by`` to that person's account and asks the same authorisation
rule. Free text would let anyone write anyone's name on a register line.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity.authorisation import Principal, load_principal
from ledger.models.parties import Account, Person


class UnknownActor(ValueError):
    """``--by`` names no usable account; the message is for the operator."""


async def principal_by_code(session: AsyncSession, code: str) -> Principal:
    """The active account whose login, or whose person's code, is ``code``."""
    account = await session.scalar(select(Account).where(Account.login == code))
    if account is None:
        person = await session.scalar(select(Person).where(Person.code == code))
        if person is None:
            raise UnknownActor(f"「{code}」というアカウント・職員コードは登録されていません。")
        account = await session.scalar(select(Account).where(Account.person_id == person.id))
        if account is None:
            raise UnknownActor(
                f"{person.name}（{code}）にはアカウントがありません。"
                f"`handover admin invite {code}` で発行してください。"
            )
    if account.disabled_at is not None:
        raise UnknownActor(f"アカウント「{account.login}」は停止されています。")
    return await load_principal(session, account)


def display_name(principal: Principal) -> str:
    """How register lines name a person: name and code (the login), or the login alone for an admin account."""
    if principal.person_name:
        return f"{principal.person_name}（{principal.login}）"
    return principal.login
