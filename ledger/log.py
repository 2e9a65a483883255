"""The hub's tamper-evident ledger: append events, verify the whole log, prove, checkpoint and export.

Every event is one leaf of an RFC 9162 Merkle tree. Its bytes are the canonical JSON (``ledger.canonical``)
of ``{"at": UTC timestamp, "contract_id": str|null, "data": {...payload}, "kind": str, "package_id":
str|null}``; leaf ``i`` is the row with ``idx = i``. ``append`` runs inside the caller's transaction, so a
business change and its ledger entry commit (or roll back) together.

Indices are handed out one writer at a time: on PostgreSQL a transaction-scoped advisory lock is taken before
the current size is read; on SQLite the first INSERT computes ``max(idx) + 1`` itself, so the database's single
write lock is taken before the size is read. Either way the lock is held until the caller commits, so a
committed log never has gaps. ``Appender`` batches events from concurrent callers into one transaction when
throughput matters more than committing together with a business change.

Integrity rests on checkpoints: a signed note (``ledger.checkpoint``) over the tree size and root. Row-level
faults (an entry edited without its hash, a missing index, a copied column that disagrees with the entry) are
named exactly; a consistent rewrite of entries and hashes shows only as a root that differs from a
checkpoint's, so it is located between the last checkpoint that still matches and the first that does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from ledger.canonical import canonical_entry
from ledger.checkpoint import Checkpoint, NoteError, SigningKey, VerifierKey, open_note, sign_note
from ledger.merkle import RangeHasher, TreeHasher, consistency_ranges, inclusion_ranges, leaf_hash
from ledger.merkle import verify_consistency as _verify_consistency
from ledger.merkle import verify_inclusion as _verify_inclusion
from ledger.models.base import Base, utcnow
from ledger.models.ledger import LedgerCheckpoint, LedgerEntry

# Arbitrary, but fixed forever: every hub process must contend for the same advisory lock ("ledg" + 1).
ADVISORY_LOCK_KEY = 0x6C656467_00000001
BATCH_ROWS = 20_000

_entries: Table = Base.metadata.tables[LedgerEntry.__tablename__]
_checkpoints: Table = Base.metadata.tables[LedgerCheckpoint.__tablename__]

# Built once so that SQLAlchemy's compiled-statement cache is hit without recomputing cache keys per append.
_LOCK = select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY))
_NEXT_IDX = select(func.coalesce(func.max(_entries.c.idx), -1) + 1).scalar_subquery()
_INSERT_FIRST = insert(_entries).values(idx=_NEXT_IDX).returning(_entries.c.idx)


class LedgerIntegrityError(RuntimeError):
    """The stored log is not a contiguous, untampered sequence of leaves."""


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
) -> int:
    """Add one entry in the session's transaction and return its leaf index."""
    event = Event(kind, payload, contract_id, package_id, at)
    return (await _insert(session, [event.row()]))[0]


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK)
    start: int = (await session.execute(_INSERT_FIRST, rows[0])).scalar_one()
    if len(rows) > 1:
        await session.execute(insert(_entries), [{"idx": start + i, **row} for i, row in enumerate(rows)][1:])
    return list(range(start, start + len(rows)))


async def _current_size(session: AsyncSession) -> int:
    size = await session.scalar(select(func.coalesce(func.max(_entries.c.idx), -1) + 1))
    return int(size or 0)


async def tree_size(session: AsyncSession) -> int:
    """Entries in the log (committed ones, plus this session's own)."""
    return await _current_size(session)


async def _batches(
    session: AsyncSession, *columns: Any, end: int | None = None
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows ordered by index, ``BATCH_ROWS`` at a time (keyset pagination, so memory stays flat)."""
    last: int | None = None
    while True:
        query = select(_entries.c.idx, *columns).order_by(_entries.c.idx).limit(BATCH_ROWS)
        if last is not None:
            query = query.where(_entries.c.idx > last)
        if end is not None:
            query = query.where(_entries.c.idx < end)
        rows = (await session.execute(query)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


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
            select(_checkpoints.c.id, _checkpoints.c.tree_size, _checkpoints.c.root_hash, _checkpoints.c.note).order_by(
                _checkpoints.c.tree_size, _checkpoints.c.id
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
    columns = (_entries.c.entry, _entries.c.leaf_hash, _entries.c.kind)
    async for batch in _batches(session, *columns, _entries.c.contract_id, _entries.c.package_id):
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


async def _leaf_hashes(session: AsyncSession, size: int) -> AsyncIterator[tuple[int, bytes]]:
    current = await _current_size(session)
    if not 0 <= size <= current:
        raise ValueError(f"tree size {size} is outside the log's 0..{current}")
    expected = 0
    async for batch in _batches(session, _entries.c.leaf_hash, end=size):
        for idx, leaf in batch:
            if idx != expected:
                raise LedgerIntegrityError(f"index {expected} is missing; run verify")
            expected += 1
            yield idx, leaf
    if expected != size:
        raise LedgerIntegrityError(f"index {expected} is missing; run verify")


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    entry: bytes
    leaf_hash: bytes
    root_hash: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return self.leaf_hash == leaf_hash(self.entry) and _verify_inclusion(
            self.index, self.tree_size, self.leaf_hash, self.path, self.root_hash
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "entry": self.entry.decode("utf-8"),
            "leaf_hash": self.leaf_hash.hex(),
            "root_hash": self.root_hash.hex(),
            "path": [node.hex() for node in self.path],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return _verify_consistency(self.old_size, self.new_size, self.old_root, self.new_root, self.path)

    def as_dict(self) -> dict[str, object]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [node.hex() for node in self.path],
        }


async def prove_inclusion(session: AsyncSession, idx: int, tree_size: int | None = None) -> InclusionProof:
    """Inclusion proof of entry ``idx`` in the tree of ``tree_size`` entries (default: the whole log)."""
    size = await _current_size(session) if tree_size is None else tree_size
    ranges = RangeHasher(inclusion_ranges(idx, size))
    root = TreeHasher()
    leaf = b""
    async for position, node in _leaf_hashes(session, size):
        ranges.add(node)
        root.add(node)
        if position == idx:
            leaf = node
    entry = await session.scalar(select(_entries.c.entry).where(_entries.c.idx == idx))
    if entry is None:
        raise LedgerIntegrityError(f"entry {idx} vanished while proving")
    return InclusionProof(idx, size, entry, leaf, root.root(), tuple(ranges.hashes()))


async def prove_consistency(session: AsyncSession, old: int, new: int | None = None) -> ConsistencyProof:
    """Proof that the log at ``new`` entries (default: now) extends the log at ``old`` entries."""
    size = await _current_size(session) if new is None else new
    ranges = RangeHasher(consistency_ranges(old, size))
    root = TreeHasher()
    old_root = root.root()
    async for _, node in _leaf_hashes(session, size):
        ranges.add(node)
        root.add(node)
        if root.size == old:
            old_root = root.root()
    return ConsistencyProof(old, size, old_root, root.root(), tuple(ranges.hashes()))


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


EXPORT_README = """\
# Handover ledger export

Verify this log with your own code; nothing here needs ours.

* `entries.jsonl`: entry `i` is line `i` (0-based). Each line is the entry's exact bytes (UTF-8 canonical
  JSON with sorted keys: `at`, `contract_id`, `data`, `kind`, `package_id`) followed by one `\\n`, which is
  not part of the entry.
* Leaf hash: `SHA-256(0x00 || entry bytes)`. Interior node: `SHA-256(0x01 || left || right)`. The tree over
  `n` entries is RFC 9162 section 2.1.1 (RFC 6962 section 2.1): split at the largest power of two smaller
  than `n`; the empty tree's hash is `SHA-256("")`.
* `checkpoints/*.txt`: C2SP tlog-checkpoint signed notes (https://c2sp.org/tlog-checkpoint,
  https://c2sp.org/signed-note): line 1 origin, line 2 tree size in decimal, line 3 the base64 root hash,
  a blank line, then `— <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>`. The signature
  covers the text before the blank line, including its final newline.
* `key.vkey`: the verifier key, `<name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 public key)>`; the key
  id is `SHA-256(name || 0x0A || 0x01 || public key)[:4]`. Confirm it with the hub's operator through
  another channel before trusting it. golang.org/x/mod/sumdb/note reads both formats.

To verify: check each note's signature with the key, recompute the root over the first `tree size` entries
and compare it with the note's root. Compare the notes with copies you obtained earlier: any two checkpoints
must be consistent (RFC 9162 section 2.1.4), which the hub proves with `handover ledger consistency`;
inclusion proofs (`handover ledger prove`) follow RFC 9162 section 2.1.3.
"""


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    entries: int
    checkpoints: list[Path] = field(default_factory=list)


def _prepare_export(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty; export into a new directory")
    (directory / "checkpoints").mkdir()


async def export(session: AsyncSession, directory: Path, public_key: VerifierKey) -> ExportSummary:
    """Write the log, its checkpoints, the verifier key and a README into a new or empty ``directory``."""
    await asyncio.to_thread(_prepare_export, directory)
    size = await _current_size(session)
    written = 0
    with await asyncio.to_thread((directory / "entries.jsonl").open, "wb") as out:
        async for batch in _batches(session, _entries.c.entry, end=size):
            for idx, _ in batch:
                if idx != written:
                    raise LedgerIntegrityError(f"index {written} is missing; run verify")
                written += 1
            await asyncio.to_thread(out.writelines, [row[1] + b"\n" for row in batch])
    if written != size:
        raise LedgerIntegrityError(f"index {written} is missing; run verify")
    notes = (
        await session.execute(
            select(_checkpoints.c.id, _checkpoints.c.tree_size, _checkpoints.c.note)
            .where(_checkpoints.c.tree_size <= size)
            .order_by(_checkpoints.c.id)
        )
    ).all()
    files = {directory / "key.vkey": public_key.vkey + "\n", directory / "README.md": EXPORT_README}
    files |= {directory / "checkpoints" / f"{cid:08d}-size-{n}.txt": note for cid, n, note in notes}
    for path, content in files.items():
        await asyncio.to_thread(path.write_text, content, encoding="utf-8", newline="")
    return ExportSummary(directory, written, sorted(p for p in files if p.parent.name == "checkpoints"))


class Appender:
    """Group commit: events from concurrent callers are written in shared transactions.

    While one batch commits, new events queue up; the next transaction takes them all (up to ``max_batch``).
    Each caller's ``append`` returns once its entry is committed. Use it for events that need not commit
    together with a business change (access logs, deliveries recorded after the fact); otherwise call
    :func:`append` on the business transaction's session. The writer keeps one connection, which saves the
    pool's checkout ping and reset on every batch.
    """

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 1000) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def append(
        self,
        kind: str,
        payload: Mapping[str, object],
        *,
        contract_id: str | None = None,
        package_id: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Queue one entry and return its index once committed."""
        if self._closing:
            raise RuntimeError("appender is closed")
        row = Event(kind, payload, contract_id, package_id, at).row()
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((row, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        self._wake.set()
        return await done

    async def _write(self) -> None:
        connection: AsyncConnection | None = None
        try:
            while not self._closing or self._queue:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                    try:
                        connection = connection or await self._engine.connect()
                        async with AsyncSession(bind=connection) as session, session.begin():
                            indices = await _insert(session, [row for row, _ in batch])
                    except Exception as exc:  # every waiting caller must learn of the failure
                        for _, done in batch:
                            done.set_exception(exc)
                        if connection is not None:
                            # The connection may be what failed; the next batch starts on a fresh one.
                            await connection.invalidate()
                            await connection.close()
                            connection = None
                        continue
                    for (_, done), idx in zip(batch, indices, strict=True):
                        done.set_result(idx)
        finally:
            if connection is not None:
                await connection.close()

    async def aclose(self) -> None:
        """Refuse new events and return once those already queued are committed."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
