"""Moving the sealed files an older hub kept under its data directory into the blob store (after migration 0019).

A migration sees only the database, so ``handover db move-sealed-files`` does this once, on the host whose data
directory holds the files, after ``handover db upgrade``: contractor uploads (``inbound/<contract>/<id>.sealed``),
quarantined drops (``quarantine/<intake>.sealed``), the ward's reference extracts (``references/<contract>.<kind>
.sealed``) and inspection attachments (``inspections/<inspection>/<digest>.sealed``). Uploads, drops and
references are already in the sealed-file format with the AAD their rows expect: their bytes are put unchanged.
Attachments were sealed whole as one secret; they are opened and sealed again in the streaming format. An upload
from before sealing (a plain file by absolute path) is sealed into the store now. Each old file is removed only
once its blob is stored, so a run cut short is simply run again: a blob already stored is skipped.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.store import CHUNK_BYTES, BlobStore
from exchange.inbound import reference, uploads
from exchange.intake.sealed_quarantine import quarantine_key
from exchange.keys import sealing
from exchange.keys.sealed_files import seal_into
from exchange.oversight import attachments
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundFile
from ledger.models.oversight import Inspection
from ledger.models.packages import IntakeFile


@dataclass
class MoveResult:
    """How many files of each kind were moved, and the keys whose old file was not found."""

    moved: Counter[str] = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SealedFilesMove:
    sessions: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    keyring: sealing.Keyring
    data_dir: Path

    async def run(self) -> MoveResult:
        result = MoveResult()
        await self._uploads(result)
        await self._quarantine(result)
        await self._references(result)
        await self._attachments(result)
        return result

    async def _put(self, key: str, old: Path, kind: str, result: MoveResult) -> None:
        """Store ``old`` under ``key`` unless the store has it already, then remove ``old``."""
        if await self.blobs.size(key) is None:
            if not await asyncio.to_thread(old.is_file):
                result.missing.append(key)
                return
            await self.blobs.put_file(key, old)
            result.moved[kind] += 1
        await asyncio.to_thread(old.unlink, True)

    async def _uploads(self, result: MoveResult) -> None:
        async with self.sessions() as session:
            rows = (await session.execute(select(InboundFile, Contract.public_id).join(Contract))).all()
        for upload, contract_id in rows:
            if upload.sealed:
                old = self.data_dir / "inbound" / contract_id / f"{upload.public_id}.sealed"
                await self._put(upload.blob_key, old, "uploads", result)
            else:
                await self._seal_plain(upload, result)

    async def _seal_plain(self, upload: InboundFile, result: MoveResult) -> None:
        """An upload from before sealing: its plain file is sealed into the store, the row then names the key."""
        plain = Path(upload.blob_key)
        if not await asyncio.to_thread(plain.is_file):
            result.missing.append(plain.name)
            return
        key = uploads.upload_key(upload.public_id)
        await seal_into(self.blobs, key, _file_chunks(plain), self.keyring.current, uploads.aad(upload.public_id))
        async with self.sessions.begin() as session:
            row = await session.get(InboundFile, upload.id)
            assert row is not None
            row.blob_key, row.sealed = key, True
        await asyncio.to_thread(plain.unlink, True)
        result.moved["uploads"] += 1

    async def _quarantine(self, result: MoveResult) -> None:
        async with self.sessions() as session:
            rows = (await session.execute(select(IntakeFile).where(IntakeFile.sealed_key.is_not(None)))).scalars()
            intakes = list(rows)
        for intake in intakes:
            old = self.data_dir / "quarantine" / f"{intake.public_id}.sealed"
            await self._put(quarantine_key(intake.public_id), old, "quarantine", result)

    async def _references(self, result: MoveResult) -> None:
        folder = self.data_dir / reference.FOLDER
        found = await asyncio.to_thread(lambda: sorted(folder.glob("*.sealed")) if folder.is_dir() else [])
        for old in found:
            contract_id, _, kind = old.name.removesuffix(".sealed").rpartition(".")
            if kind in ("csv", "xlsx"):
                await self._put(reference.reference_key(contract_id, kind), old, "references", result)

    async def _attachments(self, result: MoveResult) -> None:
        async with self.sessions() as session:
            query = select(Inspection).where(Inspection.attachment_key.is_not(None))
            rows = list((await session.execute(query)).scalars())
        for row in rows:
            assert row.attachment_key is not None and row.attachment_sha256 is not None
            old = self.data_dir / "inspections" / row.public_id / f"{row.attachment_sha256[:16]}.sealed"
            if await self.blobs.size(row.attachment_key) is None:
                if not await asyncio.to_thread(old.is_file):
                    result.missing.append(row.attachment_key)
                    continue
                data = await asyncio.to_thread(old.read_bytes)
                # The old form: the whole file as one sealed secret, bound to the inspection's id.
                plain = await asyncio.to_thread(_unseal_whole, self.keyring, data, row.public_id)
                await seal_into(
                    self.blobs, row.attachment_key, _one(plain), self.keyring.current, attachments.aad(row.public_id)
                )
                result.moved["attachments"] += 1
            await asyncio.to_thread(old.unlink, True)


def _unseal_whole(keyring: sealing.Keyring, data: bytes, inspection_id: str) -> bytes:
    return sealing.unseal(keyring, sealing.SealedSecret.from_bytes(data), inspection_id.encode())


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
