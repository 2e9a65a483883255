"""Appending to the ledger: a step queues its register line in its own transaction; the sequencer indexes it.

An entry's bytes are the canonical JSON (``ledger.canonical``) of ``{"at": UTC timestamp, "contract_id":
str|null, "data": {...payload}, "kind": str, "package_id": str|null}``. ``append`` runs inside the caller's
transaction and takes no lock: the line goes into ``ledger_queue`` and commits (or rolls back) together with the
step's business change. Its leaf index is given afterwards by group commit (``ledger.tlog.sequencing``, which
states the whole rule), before the step's commit returns; so ``append`` cannot return the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.canonical import canonical_entry
from ledger.models.base import utcnow
from ledger.tlog.merkle import leaf_hash
from ledger.tlog.sequencing import queue, queued

# Built once so that SQLAlchemy's compiled-statement cache is hit without recomputing cache keys per append.
_QUEUE = insert(queue)


@dataclass(frozen=True)
class Event:
    kind: str
    payload: Mapping[str, object]
    contract_id: str | None = None
    package_id: str | None = None
    at: datetime | None = None

    def row(self) -> dict[str, Any]:
        """The row for this event, without its index; canonicalisation errors surface here, early."""
        if len(self.kind) > 64 or len(self.contract_id or "") > 36 or len(self.package_id or "") > 36:
            raise ValueError("kind is limited to 64 characters, contract_id and package_id to 36")
        entry = canonical_entry(
            self.kind,
            self.at or utcnow(),
            self.payload,
            contract_id=self.contract_id,
            package_id=self.package_id,
        )
        return {
            "entry": entry,
            "leaf_hash": leaf_hash(entry),
            "kind": self.kind,
            "contract_id": self.contract_id,
            "package_id": self.package_id,
            "recorded_at": utcnow(),
        }


async def append(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, object],
    *,
    contract_id: str | None = None,
    package_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Queue one entry in the session's transaction; it is in the log once that transaction's commit returns."""
    row = Event(kind, payload, contract_id, package_id, at).row()
    await session.execute(_QUEUE, row)
    queued(session)
