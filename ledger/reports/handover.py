"""Rows of the handover register (管理簿・確認記録票, C-03), read back from the ledger.

A register line is a ledger entry whose ``data`` was written by ``ledger.registers.handover.record`` (it has a
``category``); other ledger events are not part of the register. 確認 shows who acknowledged receipt of a
package and when: the first ``package.acknowledged`` entry of that package names the person in ``handler_to``
(the receiving side of a 受領 line; ``handler_from`` is taken when it is empty), and a package without such an
entry falls back to its row's ``acknowledged_at`` and ``acknowledged_by``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.ledger import LedgerEntry
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.registers.handover import Category, RegisterKind
from ledger.reports.model import (
    Cell,
    Column,
    Report,
    ReportFilter,
    Section,
    contract_title,
    select_contracts,
    wareki_datetime_cell,
)
from ledger.tlog.sequencing import settle

TITLE = "個人情報受渡し管理簿（確認記録票）"
COLUMNS = (
    Column("台帳番号", 5),
    Column("日時", 13),
    Column("区分", 7),
    Column("引渡者", 9),
    Column("受領者", 9),
    Column("情報の内容", 30),
    Column("数量", 14),
    Column("媒体・経路", 8),
    Column("確認", 14),
)
# key in a register line's quantity → (what is counted, counter word)
_UNITS = {
    "media": ("媒体", "枚"),
    "packages": ("パッケージ", "件"),
    "files": ("ファイル", "件"),
    "records": ("レコード", "件"),
    "rows": ("行", "件"),
    "pages": ("印刷", "枚"),
    "notices": ("通知書", "通"),
    "documents": ("書類", "件"),
    "bytes": ("", "バイト"),
}
_HANDLER_NAMES = {"system": "システム"}


def quantity_text(quantity: Mapping[str, Any]) -> str:
    """``ファイル 1件、レコード 8,500件、1,234,567バイト``, units in a fixed order, unknown keys last."""
    ordered = [key for key in _UNITS if key in quantity] + sorted(set(quantity) - set(_UNITS))
    parts = []
    for key in ordered:
        label, unit = _UNITS.get(key, (key, ""))
        parts.append(f"{label} {quantity[key]:,}{unit}".strip())
    return "、".join(parts)


def handler_text(name: object) -> str:
    return "" if name is None else _HANDLER_NAMES.get(str(name), str(name))


def _timestamp(text: str) -> datetime:
    # ledger.canonical writes every timestamp in exactly this form.
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


async def _acknowledgements_from_packages(
    session: AsyncSession, package_ids: Sequence[str]
) -> dict[str, tuple[str, datetime]]:
    if not package_ids:
        return {}
    rows = await session.execute(
        select(Package.public_id, Person.name, Package.acknowledged_at)
        .outerjoin(Person, Person.id == Package.acknowledged_by_id)
        .where(Package.public_id.in_(package_ids), Package.acknowledged_at.is_not(None))
    )
    return {public_id: (name or "", at) for public_id, name, at in rows if at is not None}


async def contract_rows(session: AsyncSession, contract: Contract, flt: ReportFilter) -> list[tuple[Cell, ...]]:
    """The register lines of one contract within the filter's period, in ledger order."""
    await settle(session)  # a transaction that wrote lines itself reads them too (ledger.tlog.sequencing, rule 5)
    entries = await session.execute(
        select(LedgerEntry.idx, LedgerEntry.entry)
        .where(LedgerEntry.contract_id == contract.public_id)
        .order_by(LedgerEntry.idx)
    )
    lines: list[tuple[int, datetime, str | None, dict[str, Any]]] = []
    acknowledged: dict[str, tuple[str, datetime]] = {}
    notice_lines: dict[int, str] = {}
    notices_confirmed: dict[str, tuple[str, datetime]] = {}
    for idx, raw in entries:
        entry = json.loads(raw)
        data = entry["data"]
        if not isinstance(data, dict) or "category" not in data:
            continue
        at, package_id = _timestamp(entry["at"]), entry["package_id"]
        # Acknowledgements count even when they fall outside the period: they confirm lines inside it.
        if entry["kind"] == RegisterKind.PACKAGE_ACKNOWLEDGED and package_id and package_id not in acknowledged:
            acknowledged[package_id] = (handler_text(data.get("handler_to") or data.get("handler_from")), at)
        # A delivery of sealed notices is confirmed by ward staff in a later line, found by the delivery's id.
        delivery = str((data.get("details") or {}).get("delivery", ""))
        if entry["kind"] == RegisterKind.NOTICES_DELIVERED:
            notice_lines[idx] = delivery
        elif entry["kind"] == RegisterKind.NOTICES_CONFIRMED and delivery not in notices_confirmed:
            notices_confirmed[delivery] = (handler_text(data.get("handler_to")), at)
        if flt.includes(at):
            lines.append((idx, at, package_id, data))
    provided = {pid for _, _, pid, data in lines if pid and data["category"] == Category.PROVIDED}
    fallback = await _acknowledgements_from_packages(session, sorted(provided - set(acknowledged)))
    acknowledged = fallback | acknowledged
    rows: list[tuple[Cell, ...]] = []
    for idx, at, package_id, data in lines:
        confirmation = ""
        if package_id in acknowledged and data["category"] == Category.PROVIDED:
            who, when = acknowledged[package_id]
            confirmation = f"{who} {wareki_datetime_cell(when)}".strip()
        elif notice_lines.get(idx) in notices_confirmed:
            who, when = notices_confirmed[notice_lines[idx]]
            confirmation = f"{who} {wareki_datetime_cell(when)}".strip()
        rows.append(
            (
                idx,
                wareki_datetime_cell(at),
                str(data["category"]),
                handler_text(data.get("handler_from")),
                handler_text(data.get("handler_to")),
                str(data.get("content") or ""),
                quantity_text(data.get("quantity") or {}),
                str(data.get("channel") or ""),
                confirmation,
            )
        )
    return rows


async def build(session: AsyncSession, flt: ReportFilter, *, now: datetime | None = None) -> Report:
    sections = [
        Section(contract.code, contract_title(contract), await contract_rows(session, contract, flt))
        for contract in await select_contracts(session, flt)
    ]
    return Report(TITLE, COLUMNS, tuple(flt.describe()), tuple(sections), now or utcnow())
