"""Verifying the whole log against its rows and checkpoints, and signing a new checkpoint of a verified log.

Integrity rests on checkpoints: a signed note (``ledger.tlog.checkpoint``) over the tree size and root. Row-level
faults (an entry edited without its hash, a missing index, a copied column that disagrees with the entry) are
named exactly; a consistent rewrite of entries and hashes shows only as a root that differs from a
checkpoint's, so it is located between the last checkpoint that still matches and the first that does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.ledger import LedgerCheckpoint
from ledger.tlog.checkpoint import Checkpoint, NoteError, SigningKey, VerifierKey, open_note, sign_note
from ledger.tlog.merkle import TreeHasher
from ledger.tlog.store import LedgerIntegrityError, batches, checkpoints, entries


@dataclass(frozen=True)
class VerifyResult:
    tree_size: int
    """Entries checked: the whole log when ``ok``, else the index where checking stopped."""
    root_hash: bytes
    checkpoints_checked: int
    first_bad_index: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.ok:
            return (
                f"ok: {self.tree_size} entries, root {self.root_hash.hex()}, "
                f"{self.checkpoints_checked} checkpoints match"
            )
        return f"FAILED at index {self.first_bad_index}: {self.problem}"


class _ColumnCheck:
    """Do the copied columns (kind, contract_id, package_id) say what the hashed entry says?

    Parsing a million entries would take most of verify's time budget. Keys are sorted, so an entry made by
    ``canonical_entry`` is ``{"at":"<27 chars>","contract_id":…,"data":{…},"kind":…,"package_id":…}`` and
    comparing its fixed-position prefix and its suffix is exact; only a mismatch is parsed, for the message.
    """

    _CONTRACT_AT = len('{"at":"2026-08-01T00:00:00.000000Z",')

    def __init__(self) -> None:
        self._encoded: dict[str | None, bytes] = {}

    def _json(self, value: str | None) -> bytes:
        encoded = self._encoded.get(value)
        if encoded is None:
            encoded = self._encoded[value] = json.dumps(value, ensure_ascii=False).encode("utf-8")
        return encoded

    def disagreement(self, entry: bytes, kind: str, contract_id: str | None, package_id: str | None) -> str | None:
        suffix = b',"kind":' + self._json(kind) + b',"package_id":' + self._json(package_id) + b"}"
        prefix = b'"contract_id":' + self._json(contract_id) + b',"data":'
        if entry.endswith(suffix) and entry.startswith(prefix, self._CONTRACT_AT):
            return None
        try:
            parsed = json.loads(entry)
        except ValueError:
            return "the entry is not JSON"
        for name, value in (("kind", kind), ("contract_id", contract_id), ("package_id", package_id)):
            if parsed.get(name) != value:
                return f"column {name} = {value!r} but the entry says {parsed.get(name)!r}"
        return "the entry is not in canonical form"


async def verify(session: AsyncSession, verifier: VerifierKey | None = None) -> VerifyResult:
    """Recompute every leaf hash and the root at every checkpoint's size; stop at the first fault.

    With ``verifier``, each checkpoint's note must also carry its valid signature and state the same size and
    root as the checkpoint row.
    """
    stored = (
        await session.execute(
            select(checkpoints.c.id, checkpoints.c.tree_size, checkpoints.c.root_hash, checkpoints.c.note).order_by(
                checkpoints.c.tree_size, checkpoints.c.id
            )
        )
    ).all()
    hasher, sha256, columns_check = TreeHasher(), hashlib.sha256, _ColumnCheck()
    pending, checked, proven_up_to = list(stored), 0, 0

    def fail(index: int, problem: str) -> VerifyResult:
        return VerifyResult(hasher.size, hasher.root(), checked, index, problem)

    def check_checkpoints() -> VerifyResult | None:
        nonlocal checked, proven_up_to
        while pending and pending[0].tree_size == hasher.size:
            checkpoint = pending.pop(0)
            if verifier is not None:
                try:
                    signed = open_note(checkpoint.note, verifier)
                except NoteError as exc:
                    return fail(proven_up_to, f"checkpoint #{checkpoint.id}: {exc}")
                if (signed.tree_size, signed.root_hash) != (checkpoint.tree_size, checkpoint.root_hash):
                    return fail(proven_up_to, f"checkpoint #{checkpoint.id}: note and row disagree")
            if hasher.root() != checkpoint.root_hash:
                return fail(
                    proven_up_to,
                    f"root at size {hasher.size} differs from checkpoint #{checkpoint.id}: an entry in "
                    f"[{proven_up_to}, {hasher.size}) was changed, inserted, removed or reordered",
                )
            checked += 1
            proven_up_to = hasher.size
        return None

    if (failure := check_checkpoints()) is not None:
        return failure
    columns = (entries.c.entry, entries.c.leaf_hash, entries.c.kind)
    async for batch in batches(session, *columns, entries.c.contract_id, entries.c.package_id):
        for row in batch:
            idx, entry, stored_leaf = row[0], row[1], row[2]
            if idx != hasher.size:
                return fail(min(idx, hasher.size), f"expected index {hasher.size}, found {idx}")
            leaf = sha256(b"\x00" + entry).digest()
            if leaf != stored_leaf:
                return fail(idx, "stored leaf hash does not match the entry")
            if (disagreement := columns_check.disagreement(entry, row[3], row[4], row[5])) is not None:
                return fail(idx, disagreement)
            hasher.add(leaf)
            if pending and pending[0].tree_size == hasher.size and (failure := check_checkpoints()):
                return failure
    if pending:
        return fail(
            hasher.size,
            f"checkpoint #{pending[0].id} covers {pending[0].tree_size} entries but the log has only {hasher.size}",
        )
    return VerifyResult(hasher.size, hasher.root(), checked)


async def sign_checkpoint(session: AsyncSession, key: SigningKey, origin: str) -> LedgerCheckpoint:
    """Verify the whole log, then sign and store a checkpoint of its current size and root.

    Refusing to sign a log that fails verification keeps a signature from ever vouching for tampered rows.
    """
    result = await verify(session)
    if not result.ok:
        raise LedgerIntegrityError(result.summary())
    note = sign_note(Checkpoint(origin, result.tree_size, result.root_hash), key)
    checkpoint = LedgerCheckpoint(tree_size=result.tree_size, root_hash=result.root_hash, note=note)
    session.add(checkpoint)
    await session.flush()
    return checkpoint
