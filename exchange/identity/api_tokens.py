"""Bearer tokens for the portal API: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.identity import ApiToken
from ledger.models.parties import Account

PREFIX = "hvr_"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create(session: AsyncSession, account: Account, name: str, *, now: datetime, days: int = 90) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            account_id=account.id,
            name=name,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token


async def authenticate(session: AsyncSession, token: str, now: datetime) -> Account | None:
    if not token.startswith(PREFIX):
        return None
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == digest(token)))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    account = await session.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        return None
    row.last_used_at = now
    return account
