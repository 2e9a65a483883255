"""Login accounts: Argon2id password hashes and one-time initial passwords."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Account, PersonRole

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
