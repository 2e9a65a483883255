"""Login accounts: Argon2id password hashes and one-time initial passwords; cutting an account off (disable,
end its sessions, revoke its API tokens), restoring it and lifting its lockout, each in the audit log and the
register with the person who acted (C-10)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity import audit_log as audit
from exchange.identity import lockout
from exchange.identity.authorisation import Action
from ledger.models import Account, PersonRole, WebSession
from ledger.models.identity import ApiToken, LoginChallenge
from ledger.models.parties import Party, Person
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record

_hasher = PasswordHasher()  # argon2-cffi defaults to Argon2id with RFC 9106 low-memory parameters

ONE_TIME_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """Argon2id is deliberately slow (tens of milliseconds): never run it on the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def one_time_password(length: int = 16) -> str:
    return "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(length))


async def create_admin(session: AsyncSession, login: str = "admin") -> str | None:
    """Create the first admin account; return its one-time password, or None if it already exists."""
    existing = (await session.execute(select(Account).where(Account.login == login))).scalar_one_or_none()
    if existing is not None:
        return None
    password = one_time_password()
    session.add(
        Account(
            login=login,
            role=PersonRole.ADMIN,
            password_hash=await hash_password_async(password),
            must_change_password=True,
        )
    )
    return password


# --- cutting an account off and restoring it (C-10) --------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """Who acts: the person's name for the register, and their account for the audit log (None from the CLI)."""

    name: str
    actor: audit.Actor = audit.ANONYMOUS
    source_ip: str | None = None


@dataclass(frozen=True)
class CutOff:
    sessions: int = 0
    challenges: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class AccountSummary:
    account: Account
    person_name: str | None
    party_name: str | None
    failures: int
    locked_until: datetime | None
    sessions: int
    tokens: int


async def cut_off(session: AsyncSession, account: Account, *, now: datetime, tokens: bool = True) -> CutOff:
    """End at once every portal session and half-finished sign-in of ``account``, and (``tokens``) revoke its API
    tokens. Disabling and re-inviting call this, so a departed person's open browser or script stops now."""
    ended = await session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    challenges = await session.execute(delete(LoginChallenge).where(LoginChallenge.account_id == account.id))
    revoked = 0
    if tokens:
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        revoked = result.rowcount  # type: ignore[attr-defined]
    return CutOff(ended.rowcount, challenges.rowcount, revoked)  # type: ignore[attr-defined]


async def find(session: AsyncSession, login_or_id: str) -> Account | None:
    return (
        await session.execute(
            select(Account).where(or_(Account.login == login_or_id, Account.public_id == login_or_id))
        )
    ).scalar_one_or_none()


async def summaries(
    session: AsyncSession, now: datetime, accounts: list[Account] | None = None
) -> list[AccountSummary]:
    if accounts is None:
        accounts = list((await session.execute(select(Account).order_by(Account.login))).scalars())
    result = []
    for account in accounts:
        person = await session.get(Person, account.person_id) if account.person_id is not None else None
        party = await session.get(Party, person.party_id) if person is not None else None
        failures, until = await lockout.account_state(session, account.id)
        sessions = await session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.account_id == account.id)
        )
        tokens = await session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        )
        result.append(
            AccountSummary(
                account,
                person.name if person else None,
                party.name if party else None,
                failures,
                until if until is not None and until > now else None,
                int(sessions or 0),
                int(tokens or 0),
            )
        )
    return result


async def api_tokens_of(session: AsyncSession, account: Account) -> list[ApiToken]:
    return list(
        (
            await session.execute(select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.id))
        ).scalars()
    )


async def _record(
    session: AsyncSession,
    acting: Acting,
    account: Account,
    action: Action,
    kind: RegisterKind,
    content: str,
    detail: dict[str, object],
) -> None:
    person = await session.get(Person, account.person_id) if account.person_id is not None else None
    audit.record(
        session,
        acting.actor,
        acting.source_ip,
        action,
        "allowed",
        object_type="account",
        object_id=account.public_id,
        detail={"by": acting.name, **detail},
    )
    await record(
        session,
        RegisterEntry(
            kind=kind,
            category=Category.ADMIN,
            content=f"{content}（{account.login}）",
            handler_from=acting.name,
            handler_to=person.name if person else account.login,
            details={"account": account.public_id, "login": account.login, **detail},
        ),
    )


async def disable(session: AsyncSession, account: Account, acting: Acting, *, now: datetime, reason: str) -> CutOff:
    account.disabled_at = account.disabled_at or now
    ended = await cut_off(session, account, now=now)
    detail: dict[str, object] = {"reason": reason, "sessions": ended.sessions, "tokens": ended.tokens}
    await _record(
        session,
        acting,
        account,
        Action.ACCOUNT_DISABLE,
        RegisterKind.ACCOUNT_DISABLED,
        "ポータルのアカウント停止",
        detail,
    )
    return ended


async def enable(session: AsyncSession, account: Account, acting: Acting, *, now: datetime) -> None:
    """Allow sign-in again; revoked tokens stay revoked (new ones are issued deliberately)."""
    account.disabled_at = None
    await _record(
        session, acting, account, Action.ACCOUNT_ENABLE, RegisterKind.ACCOUNT_ENABLED, "ポータルのアカウント再開", {}
    )


async def unlock(session: AsyncSession, account: Account, acting: Acting, *, now: datetime) -> bool:
    lifted = await lockout.unlock(session, account.id)
    await _record(
        session,
        acting,
        account,
        Action.ACCOUNT_UNLOCK,
        RegisterKind.ACCOUNT_UNLOCKED,
        "ログイン制限の解除",
        {"was_locked": lifted},
    )
    return lifted


async def end_sessions(session: AsyncSession, account: Account, acting: Acting, *, now: datetime) -> CutOff:
    ended = await cut_off(session, account, now=now, tokens=False)
    await _record(
        session,
        acting,
        account,
        Action.ACCOUNT_END_SESSIONS,
        RegisterKind.ACCOUNT_SESSIONS_ENDED,
        "ポータルのセッション終了",
        {"sessions": ended.sessions},
    )
    return ended


async def revoke_token(
    session: AsyncSession, account: Account, token: ApiToken, acting: Acting, *, now: datetime
) -> None:
    token.revoked_at = token.revoked_at or now
    await _record(
        session,
        acting,
        account,
        Action.API_TOKEN_REVOKE,
        RegisterKind.API_TOKEN_REVOKED,
        f"APIトークンの失効「{token.name}」",
        {"token": token.public_id},
    )
