"""The ward's reference data for checking what a contractor returns (S1: the welfare-system extract).

Where it comes from, and why: the application-type check (申請型) compares each entered application with the
welfare-system extract (氏名, 生年月日, 保護開始日, 保護廃止日). The hub cannot rebuild that from what it
delivered: the contractor's packages carry only the minimised items of the contract (no 生年月日, no assistance
dates), sealed in AES ZIPs, and the original drop leaves the watched folder once delivered. So ward staff
register the extract for the contract (``handover reference load CONTRACT FILE --by STAFF``); it is sealed at
rest like uploads, in the blob store (``references/<contract public id>.<csv|xlsx>``, AAD
``b"reference:" + contract public id``), a later load replaces it, ``handover reference remove`` deletes it
(crypto-erase), and both leave a register line. Uploads read it back in memory only.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Final

from exchange.blobs.store import BlobStore, blob_key
from exchange.keys.sealed_files import open_sealed_blob, seal_into
from exchange.keys.sealing import Keyring, MasterKey
from ledger.models.contracts import Contract
from ledger.registers.handover import Category, RegisterEntry, RegisterKind
from policies.hookspecs import Record
from policies.tabular import TableKind, open_table_stream, table_kind

FOLDER: Final = "references"
_KINDS: Final[tuple[TableKind, ...]] = ("csv", "xlsx")


def _aad(contract: Contract) -> bytes:
    return b"reference:" + contract.public_id.encode("ascii")


def reference_key(contract_public_id: str, kind: str) -> str:
    """The blob key of a contract's reference extract of table ``kind``."""
    return blob_key(FOLDER, f"{contract_public_id}.{kind}")


def records_of(content: bytes, kind: TableKind) -> tuple[tuple[str, ...], list[Record]]:
    """The header and records of a table held in memory (raises ``PolicyRefusal`` for an unreadable one)."""
    with open_table_stream(io.BytesIO(content), kind) as table:
        return table.header, [dict(zip(table.header, row, strict=False)) for row in table]


def read_source(source: Path) -> tuple[TableKind, bytes]:
    """The staff's file to load (synchronous): its table kind and bytes; ValueError for a non-table."""
    kind = table_kind(source)
    if kind is None:
        raise ValueError("照合用データはCSVまたはExcel（.xlsx）ファイルで指定してください。")
    return kind, source.read_bytes()


async def _one(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def store(blobs: BlobStore, master: MasterKey, contract: Contract, kind: TableKind, content: bytes) -> None:
    """Seal ``content`` as the contract's reference, replacing any earlier one."""
    await seal_into(blobs, reference_key(contract.public_id, kind), _one(content), master, _aad(contract))
    for other in _KINDS:
        if other != kind:
            await blobs.delete(reference_key(contract.public_id, other))


async def remove(blobs: BlobStore, contract: Contract) -> bool:
    """Delete the contract's reference (crypto-erase); whether there was one."""
    found = False
    for kind in _KINDS:
        key = reference_key(contract.public_id, kind)
        if await blobs.size(key) is not None:
            await blobs.delete(key)
            found = True
    return found


async def load(blobs: BlobStore, keyring: Keyring, contract: Contract) -> Sequence[Record] | None:
    """The contract's reference records, decrypted into memory (the table is parsed in a worker thread)."""
    for kind in _KINDS:
        key = reference_key(contract.public_id, kind)
        if await blobs.size(key) is not None:
            content = b"".join([chunk async for chunk in open_sealed_blob(blobs, key, keyring, _aad(contract))])
            return (await asyncio.to_thread(records_of, content, kind))[1]
    return None


def register_entry(contract: Contract, staff_name: str, records: int | None) -> RegisterEntry:
    """The register line of a reference loaded (``records`` counted) or removed (``records`` None)."""
    loaded = records is not None
    return RegisterEntry(
        kind=RegisterKind.REFERENCE_LOADED if loaded else RegisterKind.REFERENCE_REMOVED,
        category=Category.ADMIN,
        content="照合用データ（生活保護システム抽出等）の登録" if loaded else "照合用データの削除",
        contract_id=contract.public_id,
        handler_from=staff_name,
        handler_to="system",
        quantity={"records": records} if records is not None else {},
        channel="cli",
    )
