"""Return folders: each accepted upload is written into the ward's return folder on its intranet as an AES-256 ZIP,
the mirror of a watched folder (data the ward drops goes out packed; data that comes back arrives packed).

A contract's own folder wins over its section's. The ZIP is packed from the sealed upload's plain stream
(``exchange.inbound.uploads.read_upload``, ``exchange.packing.streamed``): no plain copy touches the disk. Its
password is sealed under the master key and released to staff only under the split-password rule, on another
occasion and channel (``exchange.inbound.return_passwords``), never into the folder. The duty
``inbound.returns`` delivers what is pending; a delivery is one register line (受領, the hub placing the file).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.store import BlobError, BlobStore
from exchange.folders import resolve_folder
from exchange.inbound import inbox, uploads
from exchange.keys import sealing
from exchange.packing import packer, streamed
from exchange.passwords.generate import new_package_password
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract, Program
from ledger.models.return_folders import ReturnDelivery, ReturnFolder
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record

log = logging.getLogger(__name__)


def password_aad(delivery_id: str) -> bytes:
    """What binds a return ZIP's sealed password to its row."""
    return b"return:" + delivery_id.encode("ascii")


async def folder_for(session: AsyncSession, contract: Contract) -> ReturnFolder | None:
    """The contract's own return folder, else its section's, else None (the ward takes returns from the inbox)."""
    program = await session.get(Program, contract.program_id)
    assert program is not None  # enforced by the foreign key
    folders = (
        await session.execute(
            select(ReturnFolder).where(
                or_(ReturnFolder.contract_id == contract.id, ReturnFolder.section == program.section)
            )
        )
    ).scalars()
    ranked = sorted(folders, key=lambda folder: folder.contract_id is None)
    return ranked[0] if ranked else None


def _zip_name(file_name: str, upload_id: str) -> str:
    # Named after the upload, so a delivery repeated after a crash replaces its own unrecorded ZIP, never another.
    return f"{Path(file_name).stem}_{upload_id[:8]}.zip"


async def deliver(
    session: AsyncSession,
    blobs: BlobStore,
    data_dir: Path,
    keyring: sealing.Keyring,
    found: inbox.InboxItem,
    folder: ReturnFolder,
) -> ReturnDelivery:
    """Pack one accepted upload into ``folder`` and record it (in the caller's transaction)."""
    upload = found.upload
    delivery = ReturnDelivery(public_id=new_public_id(), inbound_file_id=upload.id, return_folder_id=folder.id)
    password = new_package_password()
    manifest = packer.Manifest(
        package_id=delivery.public_id,
        contract_id=found.contract.public_id,
        contract_name=found.contract.name,
        recipient=found.program.section,
        created_at=upload.uploaded_at,
    )
    dest = resolve_folder(folder.path, data_dir) / _zip_name(upload.file_name, upload.public_id)
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    source = streamed.reader(uploads.read_upload(blobs, keyring, upload), asyncio.get_running_loop())
    try:
        packed = await asyncio.to_thread(
            streamed.pack_stream, upload.file_name, source, upload.size, manifest, password, dest
        )
    finally:
        await asyncio.to_thread(source.close)
    sealed = sealing.seal(keyring.current, password.encode(), password_aad(delivery.public_id))
    del password
    delivery.zip_name, delivery.path = dest.name, str(dest)
    delivery.size, delivery.sha256 = packed.size, packed.sha256
    delivery.sealed_password, delivery.key_id = sealed.to_bytes(), sealed.key_id
    session.add(delivery)
    await session.flush()
    quantity = {"files": 1, "bytes": upload.size}
    if upload.records is not None:
        quantity["records"] = upload.records
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INBOUND_RETURN_DELIVERED,
            category=Category.RECEIVED,
            content=f"{found.kind_label}を返送フォルダへ暗号化して配置（{upload.file_name} → {dest.name}）",
            contract_id=found.contract.public_id,
            handler_from=f"{found.sender.name}（{found.party.name}）",
            handler_to=found.program.section,
            quantity=quantity,
            channel="return_folder",
            details={
                "upload": upload.public_id,
                "return": delivery.public_id,
                "folder": folder.code,
                "zip_sha256": packed.sha256,
                "zip_size": packed.size,
            },
        ),
    )
    return delivery


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    data_dir: Path,
    keyring: sealing.Keyring,
    now: datetime,
) -> dict[str, Any]:
    """Deliver every accepted upload that has a return folder and no delivery yet, one transaction each.

    Only uploads from the time the folder was set up: a folder configured today does not fill up with the past.
    One upload that cannot be packed (its sealed file unreadable, the folder full) is logged and retried on the
    next run; the others go on.
    """
    async with sessions() as session:
        pending = await inbox.items(session, awaiting_return=True, limit=1_000)
        folders: dict[int, ReturnFolder | None] = {}
        waiting: list[tuple[inbox.InboxItem, ReturnFolder]] = []
        for found in pending:
            if found.contract.id not in folders:  # one look per contract, not per upload
                folders[found.contract.id] = await folder_for(session, found.contract)
            folder = folders[found.contract.id]
            if folder is not None and folder.created_at <= found.upload.uploaded_at <= now:
                waiting.append((found, folder))
    delivered = failed = 0
    for found, folder in reversed(waiting):  # oldest first, as they came
        async with sessions() as session:
            fresh = await inbox.item(session, found.upload.public_id)
            if fresh is None or fresh.delivery is not None or fresh.upload.status not in inbox.ACCEPTED:
                continue  # decided meanwhile (discarded, delivered by another run)
            try:
                await deliver(session, blobs, data_dir, keyring, fresh, folder)
            except (OSError, sealing.SealingError, BlobError) as exc:
                log.warning("return folder delivery of upload %s failed: %s", fresh.upload.public_id, exc)
                failed += 1
                await session.rollback()
                continue
            await session.commit()
            delivered += 1
    return {"delivered": delivered, "failed": failed}
