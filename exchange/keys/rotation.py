"""Master-key rotation of the secrets sealed in the database: counting them by key, and moving them to the current
key (``handover keys status`` and ``handover keys rotate``).

``SEALED_COLUMNS`` lists every column that holds a sealed secret, with the record its AAD binds it to;
``tests/exchange/keys/test_rotation.py`` fails on a binary column that is neither listed there nor known to hold
something else (a hash, a ledger entry). ``rotate`` re-wraps each secret's data key under the current master key
(``sealing.rewrap``: the ciphertext stays as it is), a batch of rows per transaction. A run may be killed at any
moment and started again: a batch cut short is rolled back whole, and rows already on the current key are not
selected again, so the next run continues with what is left. Each row is written with a compare-and-set on the
sealed value it read, so a secret the hub changed meanwhile (a new TOTP secret, a package password crypto-erased
by the retention sweep) is left as the hub wrote it; the next run takes it up if it still needs moving.

Sealed files (uploads, quarantined drops, reference extracts, inspection attachments) are not rewritten: each
keeps its data key wrapped in its own header under the key that sealed it, and opens as long as that key stays
among the old master keys; they go when their retention ends.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, CursorResult, Row, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from exchange.admin.asp_credentials import password_aad as credential_aad
from exchange.identity.totp import secret_aad
from exchange.inbound.return_folders import password_aad as return_aad
from exchange.keys import sealing
from ledger.models.credentials import ProviderCredential
from ledger.models.identity import LoginChallenge, TotpFactor
from ledger.models.packages import Package
from ledger.models.parties import Account
from ledger.models.return_folders import ReturnDelivery

BATCH_ROWS: Final = 500
UNREADABLE: Final = "(unreadable)"


def _package_aad(public_id: str) -> bytes:
    # As ``exchange.intake.preparation`` seals it: bound to the package's public id.
    return public_id.encode()


@dataclass(frozen=True)
class SealedColumn:
    """One column of sealed secrets: ``owner`` is the public id its AAD names (via ``owner_join`` when that id
    lives in another table); ``key_id`` is the column naming the sealing key, if the table has one."""

    label: str
    id: InstrumentedAttribute[int]
    sealed: InstrumentedAttribute[bytes] | InstrumentedAttribute[bytes | None]
    key_id: InstrumentedAttribute[str] | None
    owner: InstrumentedAttribute[str]
    aad: Callable[[str], bytes]
    owner_join: ColumnElement[bool] | None = None

    def _rows(self) -> Select[int, bytes | None, str]:
        query: Select[int, bytes | None, str] = select(self.id, self.sealed, self.owner)
        if self.owner_join is not None:
            query = query.join_from(self.id.class_, self.owner.class_, self.owner_join)
        return query.where(self.sealed.is_not(None))

    def pending(self, current_key_id: str, after_id: int, limit: int) -> Select[int, bytes | None, str]:
        """Rows after ``after_id`` that may still be on an older key (all of them, without a key id column)."""
        query = self._rows().where(self.id > after_id)
        if self.key_id is not None:
            query = query.where(self.key_id != current_key_id)
        return query.order_by(self.id).limit(limit)


SEALED_COLUMNS: Final[tuple[SealedColumn, ...]] = (
    SealedColumn(
        "package passwords",
        Package.id,
        Package.sealed_password,
        Package.key_id,
        Package.public_id,
        _package_aad,
    ),
    SealedColumn(
        "TOTP secrets",
        TotpFactor.id,
        TotpFactor.sealed_secret,
        TotpFactor.key_id,
        Account.public_id,
        secret_aad,
        TotpFactor.account_id == Account.id,
    ),
    SealedColumn(
        "TOTP secrets being set up",
        LoginChallenge.id,
        LoginChallenge.pending_secret,
        None,
        Account.public_id,
        secret_aad,
        LoginChallenge.account_id == Account.id,
    ),
    SealedColumn(
        "provider credentials",
        ProviderCredential.id,
        ProviderCredential.sealed_password,
        ProviderCredential.key_id,
        ProviderCredential.public_id,
        credential_aad,
    ),
    SealedColumn(
        "return-folder ZIP passwords",
        ReturnDelivery.id,
        ReturnDelivery.sealed_password,
        ReturnDelivery.key_id,
        ReturnDelivery.public_id,
        return_aad,
    ),
)


def _key_id_of(sealed: bytes) -> str:
    try:
        return sealing.SealedSecret.from_bytes(sealed).key_id
    except (sealing.SealingError, UnicodeDecodeError):
        return UNREADABLE


async def census(session: AsyncSession) -> dict[str, Counter[str]]:
    """How many secrets of each column are sealed under each master key id."""
    counts: dict[str, Counter[str]] = {}
    for column in SEALED_COLUMNS:
        if column.key_id is not None:
            query = select(column.key_id, func.count()).where(column.sealed.is_not(None)).group_by(column.key_id)
            counts[column.label] = Counter({key_id: n for key_id, n in (await session.execute(query))})
        else:  # no key id column (short-lived rows): read each secret's own header
            sealed_values = (await session.scalars(select(column.sealed).where(column.sealed.is_not(None)))).all()
            counts[column.label] = Counter(_key_id_of(value) for value in sealed_values if value is not None)
    return counts


@dataclass(frozen=True)
class Failure:
    """A secret that could not be moved (no value in it: the column, the row id and why)."""

    label: str
    row_id: int
    reason: str


@dataclass
class RotationResult:
    moved: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)


Progress = Callable[[str, int], None]


def _rewrap_batch(
    keyring: sealing.Keyring, column: SealedColumn, rows: Sequence[Row[int, bytes | None, str]]
) -> tuple[list[tuple[int, bytes, bytes]], list[Failure]]:
    """The batch's new sealed values (row id, old value, new value); CPU work, so it runs in a worker thread."""
    moved: list[tuple[int, bytes, bytes]] = []
    failures: list[Failure] = []
    for row_id, old, owner in rows:
        if old is None:  # never selected (``pending`` wants a value); the column type allows it
            continue
        try:
            secret = sealing.SealedSecret.from_bytes(old)
            if secret.key_id == keyring.current.key_id:
                continue
            moved.append((row_id, old, sealing.rewrap(keyring, secret, column.aad(owner)).to_bytes()))
        except (sealing.SealingError, UnicodeDecodeError) as exc:
            failures.append(Failure(column.label, row_id, str(exc) or type(exc).__name__))
    return moved, failures


async def _rotate_column(
    sessions: async_sessionmaker[AsyncSession],
    keyring: sealing.Keyring,
    column: SealedColumn,
    result: RotationResult,
    batch_rows: int,
    progress: Progress,
) -> None:
    after_id = 0
    current = keyring.current.key_id
    while True:
        async with sessions() as session, session.begin():
            rows = (await session.execute(column.pending(current, after_id, batch_rows))).all()
            if not rows:
                return
            moved, failures = await asyncio.to_thread(_rewrap_batch, keyring, column, rows)
            written = 0
            for row_id, old, new in moved:
                values: dict[Any, Any] = {column.sealed: new}
                if column.key_id is not None:
                    values[column.key_id] = current
                statement = (
                    update(column.id.class_)
                    .where(column.id == row_id, column.sealed == old)
                    .values(values)
                    .execution_options(synchronize_session=False)
                )
                written += cast(CursorResult[Any], await session.execute(statement)).rowcount
        # Counted once the batch is committed: what the progress line says has moved, has.
        result.moved[column.label] += written
        result.failures += failures
        progress(column.label, result.moved[column.label])
        after_id = rows[-1][0]


async def rotate(
    sessions: async_sessionmaker[AsyncSession],
    keyring: sealing.Keyring,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Progress = lambda label, moved: None,
) -> RotationResult:
    """Move every sealed secret in the database to ``keyring.current``, ``batch_rows`` rows per transaction."""
    result = RotationResult()
    for column in SEALED_COLUMNS:
        await _rotate_column(sessions, keyring, column, result, batch_rows, progress)
    return result
