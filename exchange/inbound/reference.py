"""The ward's reference data for checking what a contractor returns (S1: the welfare-system extract).

Where it comes from, and why: the application-type check (申請型) compares each entered application with the
welfare-system extract (氏名, 生年月日, 保護開始日, 保護廃止日). The hub cannot rebuild that from what it
delivered: the contractor's packages carry only the minimised items of the contract (no 生年月日, no assistance
dates), sealed in AES ZIPs, and the original drop leaves the watched folder once delivered. So ward staff
register the extract for the contract (``handover reference load CONTRACT FILE --by STAFF``); it is sealed at
rest like uploads (``DATA_DIR/references/<contract public id>.<csv|xlsx>.sealed``, AAD
``b"reference:" + contract public id``), a later load replaces it, ``handover reference remove`` deletes it
(crypto-erase), and both leave a register line. Uploads read it back in memory only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from exchange.keys.sealed_files import read_sealed_sync, seal_stream_to
from exchange.keys.sealing import Keyring, MasterKey
from ledger.models.contracts import Contract
from ledger.registers.handover import Category, RegisterEntry, RegisterKind
from policies.hookspecs import Record
from policies.tabular import TableKind, open_table_stream, table_kind

FOLDER: Final = "references"
_KINDS: Final[tuple[TableKind, ...]] = ("csv", "xlsx")


def _aad(contract: Contract) -> bytes:
    return b"reference:" + contract.public_id.encode("ascii")


def _path(data_dir: Path, contract: Contract, kind: TableKind) -> Path:
    return data_dir / FOLDER / f"{contract.public_id}.{kind}.sealed"


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


def store(data_dir: Path, master: MasterKey, contract: Contract, kind: TableKind, content: bytes) -> None:
    """Seal ``content`` as the contract's reference, replacing any earlier one (synchronous)."""
    folder = data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    seal_stream_to(_path(data_dir, contract, kind), io.BytesIO(content), master, _aad(contract))
    for other in _KINDS:
        if other != kind:
            _path(data_dir, contract, other).unlink(missing_ok=True)


def remove(data_dir: Path, contract: Contract) -> bool:
    """Delete the contract's reference (synchronous); whether there was one."""
    found = False
    for kind in _KINDS:
        path = _path(data_dir, contract, kind)
        if path.exists():
            path.unlink()
            found = True
    return found


def load(data_dir: Path, keyring: Keyring, contract: Contract) -> Sequence[Record] | None:
    """The contract's reference records, decrypted into memory (synchronous; run it in a worker thread)."""
    for kind in _KINDS:
        path = _path(data_dir, contract, kind)
        if path.exists():
            content = b"".join(read_sealed_sync(path, keyring, _aad(contract)))
            return records_of(content, kind)[1]
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
