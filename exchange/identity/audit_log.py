"""The portal's audit log (C-11): every page view, download, password pick-up, failed access and admin change.

Rows name accounts, people, parties and public object ids, never residents' data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.audit import AuditEvent
from ledger.models.base import utcnow

Outcome = Literal["allowed", "denied", "failed"]


@dataclass(frozen=True)
class Actor:
    account_id: int | None = None
    person_id: int | None = None
    party_id: int | None = None


ANONYMOUS = Actor()


def record(
    session: AsyncSession,
    actor: Actor,
    source_ip: str | None,
    action: str,
    outcome: Outcome,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> None:
    """Add one event to the caller's transaction."""
    session.add(
        AuditEvent(
            at=utcnow(),
            account_id=actor.account_id,
            person_id=actor.person_id,
            party_id=actor.party_id,
            source_ip=source_ip,
            action=action,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            detail=dict(detail or {}),
        )
    )
