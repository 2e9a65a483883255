"""Export: the log, its checkpoints and the verifier key as plain files that an outside verifier reads alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.tlog.checkpoint import VerifierKey
from ledger.tlog.store import LedgerIntegrityError, batches, checkpoints, entries, tree_size

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
    size = await tree_size(session)
    written = 0
    with await asyncio.to_thread((directory / "entries.jsonl").open, "wb") as out:
        async for batch in batches(session, entries.c.entry, end=size):
            for idx, _ in batch:
                if idx != written:
                    raise LedgerIntegrityError(f"index {written} is missing; run verify")
                written += 1
            await asyncio.to_thread(out.writelines, [row[1] + b"\n" for row in batch])
    if written != size:
        raise LedgerIntegrityError(f"index {written} is missing; run verify")
    notes = (
        await session.execute(
            select(checkpoints.c.id, checkpoints.c.tree_size, checkpoints.c.note)
            .where(checkpoints.c.tree_size <= size)
            .order_by(checkpoints.c.id)
        )
    ).all()
    files = {directory / "key.vkey": public_key.vkey + "\n", directory / "README.md": EXPORT_README}
    files |= {directory / "checkpoints" / f"{cid:08d}-size-{n}.txt": note for cid, n, note in notes}
    for path, content in files.items():
        await asyncio.to_thread(path.write_text, content, encoding="utf-8", newline="")
    return ExportSummary(directory, written, sorted(p for p in files if p.parent.name == "checkpoints"))
