"""``handover ledger``: verify the whole log, prove inclusion and consistency, sign checkpoints, export."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select

from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from exchange.keys import sources
from ledger.models.ledger import LedgerCheckpoint
from ledger.tlog import checkpoint
from ledger.tlog.export import ExportSummary, export
from ledger.tlog.proofs import ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion
from ledger.tlog.sequencing import drain
from ledger.tlog.store import LedgerIntegrityError, tree_size
from ledger.tlog.verification import VerifyResult, sign_checkpoint, verify

T = TypeVar("T")


def _signing_key(state: CliState) -> checkpoint.SigningKey:
    try:
        return sources.signing_key(state.settings.signing_key)
    except sources.KeyUnavailable as exc:
        fail(f"the ledger signing key cannot be used: {exc}")


def _verifier(state: CliState) -> checkpoint.VerifierKey | None:
    """The signing key's public half, or None where the key is not present (an auditor's machine)."""
    ref = state.settings.signing_key
    present = ref.file.exists() if ref.file is not None else bool(os.environ.get(ref.env or ""))
    return _signing_key(state).verifier if present else None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``run``, with the ledger's refusals (bad arguments, a log that does not verify) as readable errors."""
    try:
        return run(coro)
    except LedgerIntegrityError as exc:
        fail("the ledger does not verify; run `handover ledger verify`:", [str(exc)])
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))


def _print_json(document: dict[str, object]) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def register(main: click.Group) -> None:
    @main.group("ledger")
    @click.pass_obj
    def ledger(state: CliState) -> None:
        """The tamper-evident ledger (Merkle log with signed checkpoints)."""
        # The ledger needs the database and its signing key, never a connector: no connector secret is read.
        state.secrets_needed = False

    @ledger.command("verify")
    @click.pass_obj
    def verify_log(state: CliState) -> None:
        """Recompute every leaf and every checkpoint; name the first bad index and exit 1 if any."""
        verifier = _verifier(state)

        async def go() -> VerifyResult:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                await drain(session)
                return await verify(session, verifier)

        result = run(go())
        if verifier is None:
            click.echo("note: no signing key found, so checkpoint signatures were not checked", err=True)
        click.echo(result.summary())
        if not result.ok:
            sys.exit(1)

    @ledger.command("prove")
    @click.argument("entry", type=click.IntRange(min=0))
    @click.option("--size", type=click.IntRange(min=1), default=None, help="Tree size (default: the whole log).")
    @click.pass_obj
    def prove(state: CliState, entry: int, size: int | None) -> None:
        """Inclusion proof (RFC 9162 §2.1.3) of ENTRY, as JSON."""

        async def go() -> InclusionProof:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                await drain(session)
                current = await tree_size(session)
                tree = current if size is None else size
                if not entry < tree <= current:
                    raise ValueError(f"entry {entry} is not in a tree of {tree} entries (the log has {current})")
                return await prove_inclusion(session, entry, tree)

        proof = _run(go())
        _print_json({**proof.as_dict(), "verified": proof.verify()})
        if not proof.verify():
            sys.exit(1)

    @ledger.command("consistency")
    @click.argument("old", type=click.IntRange(min=0))
    @click.argument("new", type=click.IntRange(min=0))
    @click.pass_obj
    def consistency(state: CliState, old: int, new: int) -> None:
        """Consistency proof (RFC 9162 §2.1.4) between tree sizes OLD and NEW, checked against checkpoints."""

        async def go() -> tuple[ConsistencyProof, list[str]]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                await drain(session)
                current = await tree_size(session)
                if not old <= new <= current:
                    raise ValueError(f"need OLD <= NEW <= {current} (the log's size); got {old} and {new}")
                proof = await prove_consistency(session, old, new)
                stored = await session.execute(
                    select(LedgerCheckpoint.id, LedgerCheckpoint.tree_size, LedgerCheckpoint.root_hash).where(
                        LedgerCheckpoint.tree_size.in_((old, new))
                    )
                )
            roots = {old: proof.old_root, new: proof.new_root}
            mismatches = [
                f"checkpoint #{cid} at size {n} has root {root.hex()}, the log gives {roots[n].hex()}"
                for cid, n, root in stored
                if root != roots[n]
            ]
            return proof, mismatches

        proof, mismatches = _run(go())
        _print_json({**proof.as_dict(), "verified": proof.verify(), "checkpoint_mismatches": mismatches})
        if not proof.verify() or mismatches:
            sys.exit(1)

    @ledger.command("checkpoint")
    @click.pass_obj
    def sign(state: CliState) -> None:
        """Check what is new since the latest checkpoint (the whole log the first time), sign and store a checkpoint of
        its current size; print the signed note (`handover ledger verify` checks the whole log)."""
        key = _signing_key(state)

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                await drain(session)
                async with session.begin():
                    stored = await sign_checkpoint(session, key, state.settings.ledger_origin)
                return stored.note

        click.echo(_run(go()), nl=False)

    @ledger.command("export")
    @click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
    @click.pass_obj
    def export_log(state: CliState, directory: Path) -> None:
        """Write entries (JSON Lines), checkpoints, the verifier key and a README into a new DIRECTORY."""
        verifier = _signing_key(state).verifier

        async def go() -> ExportSummary:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                await drain(session)
                return await export(session, directory, verifier)

        summary = _run(go())
        click.echo(f"exported {summary.entries} entries and {len(summary.checkpoints)} checkpoints to {directory}")
