"""Login throttling with backoff, per account and per source address, shared through the database.

Every password, second-factor, invitation-code and API-token attempt is a ``LoginAttempt`` row, so several hub
processes count the same failures. An account is locked once it has ``threshold`` failures since its last
successful login (within the window); the lock lasts ``base`` after the latest failure and doubles with every
further failure, up to ``cap``. Attempts refused because of a lock count as failures too, so hammering a locked
account only lengthens its lock. A successful login clears the account's count but not its address's count,
so one valid account cannot be used to reset the limit for guessing others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.identity import LoginAttempt


@dataclass(frozen=True)
class Rule:
    threshold: int
    window: timedelta
    base: timedelta
    cap: timedelta

    def locked_until(self, failures: int, latest: datetime | None) -> datetime | None:
        if failures < self.threshold or latest is None:
            return None
        backoff: timedelta = min(self.base * 2 ** (failures - self.threshold), self.cap)
        return latest + backoff


ACCOUNT_RULE = Rule(threshold=5, window=timedelta(hours=24), base=timedelta(minutes=5), cap=timedelta(hours=24))
ADDRESS_RULE = Rule(threshold=20, window=timedelta(hours=1), base=timedelta(minutes=5), cap=timedelta(hours=1))


async def _failures(session: AsyncSession, where: ColumnElement[bool]) -> tuple[int, datetime | None]:
    row = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(where, LoginAttempt.succeeded.is_(False))
        )
    ).one()
    return int(row[0]), row[1]


async def locked_until(
    session: AsyncSession, *, account_id: int | None, source_ip: str, now: datetime
) -> datetime | None:
    """When the lock on this account or this address ends, or None if neither is locked now."""
    ends: list[datetime] = []
    if account_id is not None:
        last_success = (
            await session.execute(
                select(func.max(LoginAttempt.at)).where(
                    LoginAttempt.account_id == account_id, LoginAttempt.succeeded.is_(True)
                )
            )
        ).scalar_one_or_none()
        since = now - ACCOUNT_RULE.window
        if last_success is not None and last_success > since:
            since = last_success
        count, latest = await _failures(session, and_(LoginAttempt.account_id == account_id, LoginAttempt.at > since))
        until = ACCOUNT_RULE.locked_until(count, latest)
        if until is not None:
            ends.append(until)
    count, latest = await _failures(
        session, and_(LoginAttempt.source_ip == source_ip, LoginAttempt.at > now - ADDRESS_RULE.window)
    )
    until = ADDRESS_RULE.locked_until(count, latest)
    if until is not None:
        ends.append(until)
    active = [end for end in ends if end > now]
    return max(active) if active else None


def record_attempt(
    session: AsyncSession, *, account_id: int | None, source_ip: str, succeeded: bool, now: datetime
) -> None:
    session.add(LoginAttempt(at=now, account_id=account_id, source_ip=source_ip, succeeded=succeeded))
