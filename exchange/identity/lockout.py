"""Login throttling with bounded back-off, per account and per source address, shared through the database.

Each attempt at a secret (password, second factor, invitation code, API token) is counted in its buckets
(``LoginThrottle`` rows) *before* the secret is checked: ``reserve`` adds one failure with a compare-and-set, so
twenty concurrent guesses cannot all pass a limit of five, whichever database and however many hub processes.
A bucket with ``threshold`` failures is locked for ``base``, doubling with each further counted attempt up to
``cap``. A locked bucket refuses without counting, so retrying during a lock neither lengthens it nor grows any
counter. A completed sign-in clears the account's bucket and takes back the one attempt from its address's.

Sign-in and the API count addresses in separate buckets: bad bearer tokens (noise from scripts on a shared
office network) never lock the office out of the portal's login page. ``LoginAttempt`` rows remain the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.models.identity import LoginAttempt, LoginThrottle

# A compare-and-set loses only to another attempt that succeeded, so retries are bounded by the concurrency.
_MAX_ROUNDS: Final = 1000


@dataclass(frozen=True)
class Rule:
    threshold: int
    window: timedelta  # failures older than this (since the last one) are forgotten
    base: timedelta
    cap: timedelta

    @property
    def max_doublings(self) -> int:
        doublings = 0
        while self.base * (1 << doublings) < self.cap:
            doublings += 1
        return doublings

    def backoff(self, failures: int) -> timedelta | None:
        """How long a bucket with ``failures`` stays locked (None below the threshold).

        The exponent is capped before it is used, so no count, however large, overflows.
        """
        if failures < self.threshold:
            return None
        exponent = min(failures - self.threshold, self.max_doublings)
        return min(self.base * (1 << exponent), self.cap)


# An account lock is bounded by an hour: an attacker who knows a login name can delay its owner, never shut
# them out for days (and the admin can lift it at once: ``handover accounts unlock``).
ACCOUNT_RULE = Rule(threshold=5, window=timedelta(hours=24), base=timedelta(minutes=5), cap=timedelta(hours=1))
LOGIN_ADDRESS_RULE = Rule(threshold=20, window=timedelta(hours=1), base=timedelta(minutes=5), cap=timedelta(hours=1))
API_ADDRESS_RULE = Rule(threshold=20, window=timedelta(hours=1), base=timedelta(minutes=5), cap=timedelta(hours=1))


@dataclass(frozen=True)
class Bucket:
    key: str
    rule: Rule


def account_bucket(account_id: int) -> Bucket:
    return Bucket(f"account:{account_id}", ACCOUNT_RULE)


def login_address_bucket(ip: str) -> Bucket:
    return Bucket(f"login-address:{ip}", LOGIN_ADDRESS_RULE)


def api_address_bucket(ip: str) -> Bucket:
    return Bucket(f"api-address:{ip}", API_ADDRESS_RULE)


async def _ensure_row(maker: async_sessionmaker[AsyncSession], key: str) -> None:
    async with maker() as session:
        dialect = session.get_bind().dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(LoginThrottle).values(bucket=key, failures=0, version=0)
        await session.execute(statement.on_conflict_do_nothing(index_elements=["bucket"]))
        await session.commit()


async def _reserve_one(maker: async_sessionmaker[AsyncSession], bucket: Bucket, now: datetime) -> datetime | None:
    for _ in range(_MAX_ROUNDS):
        async with maker() as session:
            row = (
                await session.execute(select(LoginThrottle).where(LoginThrottle.bucket == bucket.key))
            ).scalar_one_or_none()
            if row is None:
                await session.rollback()
                await _ensure_row(maker, bucket.key)
                continue
            if row.locked_until is not None and row.locked_until > now:
                return row.locked_until
            recent = row.last_failure_at is not None and now - row.last_failure_at <= bucket.rule.window
            failures = row.failures + 1 if recent else 1
            backoff = bucket.rule.backoff(failures)
            result = await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.id == row.id, LoginThrottle.version == row.version)
                .values(
                    failures=failures,
                    last_failure_at=now,
                    locked_until=now + backoff if backoff is not None else None,
                    version=row.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return None
    raise RuntimeError(f"lockout bucket {bucket.key} is contended beyond reason")


async def reserve(maker: async_sessionmaker[AsyncSession], buckets: Sequence[Bucket], now: datetime) -> datetime | None:
    """Count one attempt in each bucket before its secret is checked; if one is locked, return when it ends.

    Each bucket commits on its own connection, so the caller must not hold uncommitted writes (SQLite has one
    writer). Buckets before a locked one keep the attempt: hammering a locked account still costs the address.
    """
    for bucket in buckets:
        until = await _reserve_one(maker, bucket, now)
        if until is not None:
            return until
    return None


async def locked(maker: async_sessionmaker[AsyncSession], buckets: Sequence[Bucket], now: datetime) -> datetime | None:
    """When the lock on any of these buckets ends, without counting anything."""
    async with maker() as session:
        ends = (
            await session.execute(
                select(LoginThrottle.locked_until).where(
                    LoginThrottle.bucket.in_([bucket.key for bucket in buckets]), LoginThrottle.locked_until > now
                )
            )
        ).scalars()
        return max((end for end in ends if end is not None), default=None)


async def succeeded(session: AsyncSession, *, account_id: int, source_ip: str) -> None:
    """A completed sign-in: the account starts afresh; its address gets back the attempt it was charged."""
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.bucket == account_bucket(account_id).key)
        .values(failures=0, locked_until=None, version=LoginThrottle.version + 1)
        .execution_options(synchronize_session=False)
    )
    address = login_address_bucket(source_ip)
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.bucket == address.key, LoginThrottle.failures > 0)
        .values(
            failures=LoginThrottle.failures - 1,
            locked_until=case(
                (LoginThrottle.failures - 1 < address.rule.threshold, None), else_=LoginThrottle.locked_until
            ),
            version=LoginThrottle.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


async def unlock(session: AsyncSession, account_id: int) -> bool:
    """Lift an account's lock (an administrator's decision); True if it was locked or had failures."""
    result = await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.bucket == account_bucket(account_id).key, LoginThrottle.failures > 0)
        .values(failures=0, locked_until=None, version=LoginThrottle.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def account_state(session: AsyncSession, account_id: int) -> tuple[int, datetime | None]:
    """The account's counted failures and the end of its lock (None when not locked)."""
    row = (
        await session.execute(select(LoginThrottle).where(LoginThrottle.bucket == account_bucket(account_id).key))
    ).scalar_one_or_none()
    if row is None:
        return 0, None
    return row.failures, row.locked_until


def record_attempt(
    session: AsyncSession, *, account_id: int | None, source_ip: str, succeeded: bool, now: datetime
) -> None:
    """The attempt's history line (the access-log analysis reads these; lockout decisions do not)."""
    session.add(LoginAttempt(at=now, account_id=account_id, source_ip=source_ip, succeeded=succeeded))
