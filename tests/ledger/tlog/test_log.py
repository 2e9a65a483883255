"""The database-backed ledger on SQLite and PostgreSQL: append, verify, prove, checkpoint, export."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ledger.canonical import CanonicalError
from ledger.db import create_engine
from ledger.models.ledger import LedgerCheckpoint, LedgerEntry, LedgerQueued
from ledger.tlog.appending import append
from ledger.tlog.checkpoint import SigningKey, open_note
from ledger.tlog.export import export
from ledger.tlog.merkle import leaf_hash, root_hash
from ledger.tlog.proofs import prove_consistency, prove_inclusion
from ledger.tlog.sequencing import BATCH, drain, settle, sweep
from ledger.tlog.store import LedgerIntegrityError, tree_size
from ledger.tlog.verification import sign_checkpoint, verify
from tests.ledger.merkle_reference import ref_mth
from tests.ledger.tampering import allow_tampering

AT = datetime(2026, 8, 1, tzinfo=UTC)
ORIGIN = "handover.test/ledger"


async def fill(session: AsyncSession, n: int, key: SigningKey | None = None) -> None:
    """``n`` entries, sequenced in ``session``; with ``key``, a checkpoint after every one, so a root mismatch pins
    one index."""
    for i in range(n):
        await append(session, "test.event", {"n": i, "名前": "新宿"}, contract_id=f"c-{i % 3}", at=AT)
        if key is not None:
            await sign_checkpoint(session, key, ORIGIN)
    await settle(session)  # the tests below read and tamper with the rows of ledger_entries directly


async def test_append_assigns_contiguous_indices_and_stores_canonical_entries(db_session: AsyncSession) -> None:
    assert await tree_size(db_session) == 0
    await append(db_session, "package.delivered", {"files": 2}, package_id="p-1", at=AT)
    await append(db_session, "a", {})
    await append(db_session, "b", {"x": [1]}, contract_id="c-1")
    assert await tree_size(db_session) == 3  # a transaction reads its own lines (sequencing rule 5)
    kinds = (await db_session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).all()
    assert kinds == ["package.delivered", "a", "b"]
    row = await db_session.get(LedgerEntry, 0)
    assert row is not None
    assert row.entry == (
        b'{"at":"2026-08-01T00:00:00.000000Z","contract_id":null,"data":{"files":2},'
        b'"kind":"package.delivered","package_id":"p-1"}'
    )
    assert (row.leaf_hash, row.kind, row.package_id) == (leaf_hash(row.entry), "package.delivered", "p-1")
    assert (await verify(db_session)).ok


async def test_refused_payload_adds_nothing(db_session: AsyncSession) -> None:
    with pytest.raises(CanonicalError, match="floats"):
        await append(db_session, "bad", {"amount": 1.5})
    with pytest.raises(ValueError, match="limited"):
        await append(db_session, "k" * 65, {})
    with pytest.raises(ValueError, match="limited"):
        await append(db_session, "ok", {}, package_id="p" * 37)
    assert await tree_size(db_session) == 0


async def test_entry_commits_and_rolls_back_with_the_business_change(db_engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)
    with pytest.raises(RuntimeError, match="business failure"):
        async with sessions() as session, session.begin():
            await append(session, "doomed", {})
            raise RuntimeError("business failure")
    async with sessions() as session:
        assert await tree_size(session) == 0
        assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 0
    async with sessions() as session, session.begin():
        await append(session, "kept", {})
    async with sessions() as session:  # the commit returned: the line has its index, nothing is left queued
        assert (await session.scalars(select(LedgerEntry.kind))).all() == ["kept"]
        assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 0


async def test_triggers_refuse_update_and_delete(db_engine: AsyncEngine, key: SigningKey) -> None:
    sessions = async_sessionmaker(db_engine)
    async with sessions() as session, session.begin():
        await append(session, "x", {})
        await sign_checkpoint(session, key, ORIGIN)
    for statement in (
        "UPDATE ledger_entries SET kind = 'y'",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_checkpoints SET tree_size = 0",
        "DELETE FROM ledger_checkpoints",
    ):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
    async with sessions() as session:
        assert await tree_size(session) == 1


async def test_verify_and_checkpoints(db_session: AsyncSession, key: SigningKey) -> None:
    empty = await verify(db_session)
    assert (empty.ok, empty.tree_size, empty.root_hash) == (True, 0, hashlib.sha256(b"").digest())
    await fill(db_session, 5)
    checkpoint = await sign_checkpoint(db_session, key, ORIGIN)
    await fill(db_session, 3)
    await sign_checkpoint(db_session, key, ORIGIN)
    result = await verify(db_session, key.verifier)
    assert result.ok, result.summary()
    assert (result.tree_size, result.checkpoints_checked) == (8, 2)
    signed = open_note(checkpoint.note, key.verifier)
    assert (signed.origin, signed.tree_size, signed.root_hash) == (ORIGIN, 5, checkpoint.root_hash)
    other = SigningKey.generate(key.name)
    refused = await verify(db_session, other.verifier)
    assert not refused.ok
    assert f"checkpoint #{checkpoint.id}: note carries no signature" in (refused.problem or "")


async def test_proofs(db_session: AsyncSession) -> None:
    await fill(db_session, 13)
    entries = (await db_session.scalars(select(LedgerEntry.entry).order_by(LedgerEntry.idx))).all()
    leaves = [leaf_hash(e) for e in entries]
    for idx, size in ((0, 13), (12, 13), (5, 8), (7, 8)):
        proof = await prove_inclusion(db_session, idx, size)
        assert proof.verify()
        assert (proof.entry, proof.root_hash) == (entries[idx], root_hash(leaves[:size]))
    assert (await prove_inclusion(db_session, 3)).tree_size == 13
    for old, new in ((1, 13), (8, 13), (5, 7), (13, 13)):
        consistency = await prove_consistency(db_session, old, new)
        assert consistency.verify()
        assert consistency.old_root == root_hash(leaves[:old])
        assert json.loads(json.dumps(consistency.as_dict()))["new_size"] == new
    with pytest.raises(ValueError, match="outside"):
        await prove_inclusion(db_session, 13)
    with pytest.raises(ValueError, match="outside the log"):
        await prove_consistency(db_session, 1, 14)


async def _update(session: AsyncSession, sql: str, **params: object) -> None:
    await allow_tampering(session)
    await session.execute(text(sql), params)


async def _forged_copy(session: AsyncSession, idx: int) -> bytes:
    """Entry ``idx`` with its payload changed but its copied columns intact, as a careful forger would."""
    entry = await session.scalar(select(LedgerEntry.entry).where(LedgerEntry.idx == idx))
    assert entry is not None
    return entry.replace(b'"n":', b'"n":1')


async def test_tamper_edited_entry_is_named(db_session: AsyncSession, key: SigningKey) -> None:
    await fill(db_session, 6)
    await sign_checkpoint(db_session, key, ORIGIN)
    await _update(db_session, "UPDATE ledger_entries SET entry = :e WHERE idx = 3", e=b'{"forged":1}')
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 3)
    assert "leaf hash does not match" in (result.problem or "")
    # Signing reads the root from the tiles and re-reads only the entries since the latest checkpoint (a full
    # verify is the audit of the rest): an edited entry among those is refused.
    await fill(db_session, 2)
    await _update(db_session, "UPDATE ledger_entries SET entry = :e WHERE idx = 7", e=b'{"forged":2}')
    with pytest.raises(LedgerIntegrityError, match="index 7"):
        await sign_checkpoint(db_session, key, ORIGIN)


async def test_tamper_rewritten_entry_and_hash_is_named_by_the_checkpoints(
    db_session: AsyncSession, key: SigningKey
) -> None:
    await fill(db_session, 6, key)
    forged = await _forged_copy(db_session, 4)
    sql = "UPDATE ledger_entries SET entry = :e, leaf_hash = :h WHERE idx = 4"
    await _update(db_session, sql, e=forged, h=leaf_hash(forged))
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 4)
    assert "root at size 5 differs" in (result.problem or "")


async def test_tamper_copied_column_is_named(db_session: AsyncSession) -> None:
    await fill(db_session, 4)
    await _update(db_session, "UPDATE ledger_entries SET contract_id = 'c-9' WHERE idx = 2")
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 2)
    assert "column contract_id" in (result.problem or "")


async def test_tamper_non_canonical_rewrite_is_named(db_session: AsyncSession) -> None:
    await fill(db_session, 4)
    entry = await db_session.scalar(select(LedgerEntry.entry).where(LedgerEntry.idx == 1))
    assert entry is not None
    spaced = json.dumps(json.loads(entry), ensure_ascii=False, sort_keys=True).encode()
    sql = "UPDATE ledger_entries SET entry = :e, leaf_hash = :h WHERE idx = 1"
    await _update(db_session, sql, e=spaced, h=leaf_hash(spaced))
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 1)
    assert "not in canonical form" in (result.problem or "")


@pytest.mark.parametrize(("deleted", "bad"), [(2, 2), (5, 5)])
async def test_tamper_deleted_row_is_named(db_session: AsyncSession, key: SigningKey, deleted: int, bad: int) -> None:
    await fill(db_session, 6)
    await sign_checkpoint(db_session, key, ORIGIN)
    await _update(db_session, "DELETE FROM ledger_entries WHERE idx = :i", i=deleted)
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, bad)


async def test_tamper_reordered_rows_are_named(db_session: AsyncSession, key: SigningKey) -> None:
    await fill(db_session, 6, key)
    rows = {r.idx: r for r in (await db_session.execute(select(LedgerEntry.idx, LedgerEntry.entry))).all()}
    for idx, source in ((1, 4), (4, 1)):
        entry = rows[source].entry
        sql = "UPDATE ledger_entries SET entry = :e, leaf_hash = :h, contract_id = :c WHERE idx = :i"
        await _update(db_session, sql, e=entry, h=leaf_hash(entry), c=json.loads(entry)["contract_id"], i=idx)
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 1)


async def test_tamper_inserted_row_is_named(db_session: AsyncSession, key: SigningKey) -> None:
    await fill(db_session, 6, key)
    await _update(db_session, "UPDATE ledger_entries SET idx = idx + 1000 WHERE idx >= 3")
    await db_session.execute(text("UPDATE ledger_entries SET idx = idx - 999 WHERE idx >= 1000"))
    await append(db_session, "forged", {}, at=AT)  # lands at the end: idx 7
    await settle(db_session)
    await db_session.execute(text("UPDATE ledger_entries SET idx = 3 WHERE idx = 7"))
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 3)
    assert "root at size 4 differs" in (result.problem or "")


async def test_sparse_checkpoints_bound_the_fault(db_session: AsyncSession, key: SigningKey) -> None:
    await fill(db_session, 4)
    await sign_checkpoint(db_session, key, ORIGIN)
    await fill(db_session, 4)
    await sign_checkpoint(db_session, key, ORIGIN)
    forged = await _forged_copy(db_session, 6)
    sql = "UPDATE ledger_entries SET entry = :e, leaf_hash = :h WHERE idx = 6"
    await _update(db_session, sql, e=forged, h=leaf_hash(forged))
    result = await verify(db_session)
    assert (result.ok, result.first_bad_index) == (False, 4)
    assert "[4, 8)" in (result.problem or "")


async def test_concurrent_steps_are_in_the_log_when_their_commit_returns(db_engine: AsyncEngine) -> None:
    """Group commit: each step's lines are readable by anyone once its commit returns, in the step's own order."""
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)

    async def writer(w: int) -> None:
        for i in range(0, 12, 2):
            async with sessions() as session, session.begin():  # two lines in one step, then the next step
                await append(session, "w", {"writer": w, "i": i})
                await append(session, "w", {"writer": w, "i": i + 1})
            async with sessions() as reader:
                seen = (await reader.scalars(select(LedgerEntry.entry).where(LedgerEntry.kind == "w"))).all()
                assert sum(json.loads(e)["data"] == {"writer": w, "i": i + 1} for e in seen) == 1

    await asyncio.gather(*(writer(w) for w in range(8)))
    async with sessions() as session:
        rows = (await session.execute(select(LedgerEntry.idx, LedgerEntry.entry).order_by(LedgerEntry.idx))).all()
        assert [idx for idx, _ in rows] == list(range(96))
        for w in range(8):  # one caller's consecutive lines keep their order
            assert [json.loads(e)["data"]["i"] for _, e in rows if json.loads(e)["data"]["writer"] == w] == list(
                range(12)
            )
        assert (await verify(session)).ok


async def _queue_without_sequencing(engine: AsyncEngine, n: int, tag: str) -> None:
    """Commit ``n`` lines the way a step does, but stop before sequencing them: as a process killed right then.

    A session bound to a connection the caller opened does not wait for the sequencer (sequencing rule 5), so the
    committed lines stay queued until someone sequences them.
    """
    async with engine.connect() as conn:
        async with AsyncSession(bind=conn) as session:
            for i in range(n):
                await append(session, "queued", {"tag": tag, "i": i})
            await session.commit()


async def test_a_line_queued_by_a_process_that_died_is_sequenced_exactly_once(db_url: str, tmp_path: Path) -> None:
    # The child commits three lines as a step does, through a session bound to a connection it opened (which does
    # not wait for the sequencer), and dies at once: as a process killed between its commit and its batch.
    script = (
        "import asyncio, os, sys\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from ledger.db import create_engine\n"
        "from ledger.tlog.appending import append\n"
        "async def main():\n"
        "    async with create_engine(sys.argv[1]).connect() as conn, AsyncSession(bind=conn) as session:\n"
        "        for i in range(3):\n"
        "            await append(session, 'queued', {'tag': 'died', 'i': i})\n"
        "        await session.commit()\n"
        "        os._exit(9)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", script, db_url, cwd=Path(__file__).parents[3])
    assert await child.wait() == 9
    engine = create_engine(db_url)
    try:
        sessions = async_sessionmaker(engine)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 3
            assert await tree_size(session) == 0
        # The next sequencers (here two at once, as two hub processes' sweeps) take the lines exactly once.
        async with sessions() as one, sessions() as other:
            moved = await asyncio.gather(drain(one), drain(other))
        assert sum(moved) == 3
        async with sessions() as session:
            entries = (await session.scalars(select(LedgerEntry.entry).order_by(LedgerEntry.idx))).all()
            assert [json.loads(e)["data"] for e in entries] == [{"tag": "died", "i": i} for i in range(3)]
            assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 0
            assert (await verify(session)).ok
        async with sessions() as session:
            assert await drain(session) == 0
    finally:
        await engine.dispose()


async def test_the_sweep_sequences_what_a_dead_process_left(db_engine: AsyncEngine) -> None:
    """Every hub process runs the sweep (``ledger.sequence``): its first round takes lines nobody sequenced."""
    await _queue_without_sequencing(db_engine, 2, "left")
    swept = asyncio.Event()
    sessions = async_sessionmaker(db_engine)
    sweeper = asyncio.create_task(sweep(sessions, swept.set))
    try:
        await swept.wait()
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    async with sessions() as session:
        assert (await session.scalars(select(LedgerEntry.kind))).all() == ["queued", "queued"]
        assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 0


async def test_parallel_sequencers_leave_no_gap_and_no_duplicate(db_url: str) -> None:
    """Two processes' sequencers (two engines) drain a queue of several batches while steps keep committing."""
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        await _queue_without_sequencing(engines[0], BATCH + 500, "backlog")

        async def steps(engine: AsyncEngine, w: int) -> None:
            sessions = async_sessionmaker(engine)
            for i in range(20):
                async with sessions() as session, session.begin():
                    await append(session, "step", {"tag": f"step-{w}", "i": i})

        async with AsyncSession(engines[0]) as one, AsyncSession(engines[1]) as other:
            await asyncio.gather(drain(one), drain(other), *(steps(engines[w % 2], w) for w in range(4)))
        async with async_sessionmaker(engines[1])() as session:
            rows = (await session.execute(select(LedgerEntry.idx, LedgerEntry.entry).order_by(LedgerEntry.idx))).all()
            assert [idx for idx, _ in rows] == list(range(BATCH + 500 + 80))
            data = [json.loads(entry)["data"] for _, entry in rows]
            for tag, count in (("backlog", BATCH + 500), *((f"step-{w}", 20) for w in range(4))):
                assert [d["i"] for d in data if d["tag"] == tag] == list(range(count)), tag
            assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 0
            assert (await verify(session)).ok
    finally:
        for engine in engines:
            await engine.dispose()


async def test_export_verifies_without_our_code(db_session: AsyncSession, key: SigningKey, tmp_path: Path) -> None:
    await fill(db_session, 7)
    await sign_checkpoint(db_session, key, ORIGIN)
    await fill(db_session, 2)
    await sign_checkpoint(db_session, key, ORIGIN)
    summary = await export(db_session, tmp_path / "out", key.verifier)
    out = tmp_path / "out"
    assert summary.entries == 9 and len(summary.checkpoints) == 2
    lines = (out / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 10
    leaves = [hashlib.sha256(b"\x00" + line).digest() for line in lines[:-1]]
    assert (out / "key.vkey").read_text() == key.verifier.vkey + "\n"
    vkey = key.verifier
    for path in summary.checkpoints:
        checkpoint = open_note(path.read_text(), vkey)
        assert checkpoint.root_hash == ref_mth(leaves[: checkpoint.tree_size])
    assert "SHA-256(0x00 || entry bytes)" in (out / "README.md").read_text()
    with pytest.raises(FileExistsError):
        await export(db_session, out, key.verifier)
    stored = await db_session.scalar(select(LedgerCheckpoint.note).order_by(LedgerCheckpoint.id))
    assert summary.checkpoints[0].read_text() == stored


async def test_a_failed_batch_leaves_the_lines_queued_for_the_next(db_engine: AsyncEngine) -> None:
    """A step whose commit went through returns even when sequencing fails; its line waits in the queue."""

    async def run_ddl(sql: str) -> None:
        async with db_engine.begin() as conn:
            await conn.execute(text(sql))

    if db_engine.dialect.name == "postgresql":
        block = (
            "CREATE TRIGGER block BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        unblock = "DROP TRIGGER block ON ledger_entries"
    else:
        block = "CREATE TRIGGER block BEFORE INSERT ON ledger_entries BEGIN SELECT RAISE(ABORT, 'append-only'); END"
        unblock = "DROP TRIGGER block"
    sessions = async_sessionmaker(db_engine)
    await run_ddl(block)
    async with sessions() as session, session.begin():
        await append(session, "blocked", {})
    async with sessions() as session:
        assert await tree_size(session) == 0
        assert await session.scalar(select(func.count()).select_from(LedgerQueued)) == 1
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await drain(session)  # a reader that must see the whole log is told
    await run_ddl(unblock)
    async with sessions() as session, session.begin():
        await append(session, "after", {})
    async with sessions() as session:
        assert (await session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.idx))).all() == ["blocked", "after"]
