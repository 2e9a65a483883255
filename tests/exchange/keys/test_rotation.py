"""Which columns hold sealed secrets, and what ``rotate`` does with one it cannot open (issue 15), on both
databases. The whole procedure through ``handover keys …`` is in ``tests/exchange/test_cli_keys.py``."""

from __future__ import annotations

import os

from sqlalchemy import LargeBinary, select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.keys import rotation, sealing
from ledger.db import session_factory
from ledger.models.base import Base
from ledger.models.packages import Package
from tests.factories import add_sealed_secrets

# Binary columns that hold no sealed secret: hashes of random tokens, and the ledger's entries (queued or
# sequenced) and tree hashes (checkpoint roots, tiles).
NOT_SEALED = {
    "api_tokens.token_hash",
    "invitations.code_hash",
    "ledger_checkpoints.root_hash",
    "ledger_entries.entry",
    "ledger_entries.leaf_hash",
    "ledger_queue.entry",
    "ledger_queue.leaf_hash",
    "ledger_tiles.hashes",
    "login_challenges.token_hash",
    "web_sessions.token_hash",
}


def test_every_binary_column_is_rotated_or_known_to_hold_no_sealed_secret() -> None:
    binary = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    rotated = {f"{column.sealed.class_.__tablename__}.{column.sealed.key}" for column in rotation.SEALED_COLUMNS}
    assert binary - NOT_SEALED == rotated, "a new binary column: add it to SEALED_COLUMNS, or here if not sealed"


async def test_a_secret_under_a_key_that_is_not_configured_is_named_and_the_rest_still_move(
    db_engine: AsyncEngine,
) -> None:
    old, lost, new = (sealing.MasterKey(os.urandom(32)) for _ in range(3))
    sessions = session_factory(db_engine)
    async with sessions.begin() as session:
        await add_sealed_secrets(session, sealing.Keyring(old), 2)
        first = await session.scalar(select(Package).order_by(Package.id).limit(1))
        assert first is not None
        orphan = sealing.seal(lost, b"password", first.public_id.encode())
        first.sealed_password, first.key_id = orphan.to_bytes(), orphan.key_id
    keyring = sealing.Keyring(new, [old])

    result = await rotation.rotate(sessions, keyring, batch_rows=3)

    assert [(f.label, f.row_id) for f in result.failures] == [("package passwords", first.id)]
    assert "not in the keyring" in result.failures[0].reason
    assert result.moved.total() == 9
    async with sessions() as session:
        counts = await rotation.census(session)
    assert counts["package passwords"] == {new.key_id: 1, lost.key_id: 1}
    assert all(set(by_key) == {new.key_id} for label, by_key in counts.items() if label != "package passwords")

    # Once the missing key is configured, a second run moves the secret it left.
    again = await rotation.rotate(sessions, sealing.Keyring(new, [old, lost]))
    assert again.moved.total() == 1 and not again.failures
