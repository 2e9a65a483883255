"""Rows of the print-log findings report (C-17): reprints, unknown files and page counts that do not fit the
records, with the reasons given."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.registers import PrintFinding, PrintFindingKind, PrintLog, PrintLogRow
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

TITLE = "印刷ログ確認結果（重複印刷等）"
COLUMNS = (
    Column("検出日時", 12),
    Column("印刷ログ", 14),
    Column("区分", 8),
    Column("印刷ファイル名", 16),
    Column("印刷回数", 5),
    Column("印刷の記録", 26),
    Column("理由", 18),
    Column("理由の記入者", 8),
    Column("記入日時", 12),
    Column("状態", 7),
)
_PRINTS_SHOWN = 20
_KINDS = {
    PrintFindingKind.DUPLICATE: "重複印刷",
    PrintFindingKind.UNMATCHED: "納品データ外",
    PrintFindingKind.PAGES: "枚数不一致",
}


def file_key(name: str) -> str:
    """How printed and delivered file names are compared: base name only, NFKC, case-folded."""
    base = PurePath(name.replace("\\", "/")).name
    return unicodedata.normalize("NFKC", base).strip().casefold()


async def _prints_by_file(session: AsyncSession, contract: Contract) -> dict[str, list[str]]:
    """Every print of the contract's files, as ``日時（コンピュータ／プリンタ／枚数）``, by file key."""
    rows = await session.scalars(
        select(PrintLogRow)
        .join(PrintLog)
        .where(PrintLog.contract_id == contract.id)
        .order_by(PrintLogRow.printed_at, PrintLogRow.id)
    )
    prints: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        prints[file_key(row.file_name)].append(
            f"{wareki_datetime_cell(row.printed_at)}（{row.computer}／{row.printer}／{row.pages:,}枚）"
        )
    return prints


def prints_text(prints: list[str]) -> str:
    # A printed row must fit on one page, so a long history is cut; the count column still says how many.
    shown = prints[:_PRINTS_SHOWN]
    if len(prints) > _PRINTS_SHOWN:
        shown.append(f"ほか{len(prints) - _PRINTS_SHOWN}件")
    return "\n".join(shown)


async def contract_rows(session: AsyncSession, contract: Contract, flt: ReportFilter) -> list[tuple[Cell, ...]]:
    start, end = flt.utc_bounds()
    query = (
        select(PrintFinding)
        .options(selectinload(PrintFinding.print_log))
        .where(PrintFinding.contract_id == contract.id)
        .order_by(PrintFinding.found_at, PrintFinding.id)
    )
    if start is not None:
        query = query.where(PrintFinding.found_at >= start)
    if end is not None:
        query = query.where(PrintFinding.found_at < end)
    findings = list(await session.scalars(query))
    prints = await _prints_by_file(session, contract) if findings else {}
    return [
        (
            wareki_datetime_cell(finding.found_at),
            f"{finding.print_log.file_name}（{finding.print_log.uploaded_by}）",
            _KINDS[finding.kind],
            finding.file_name,
            finding.print_count,
            prints_text(prints[file_key(finding.file_name)]),
            finding.reason or "",
            finding.reason_by or "",
            wareki_datetime_cell(finding.reason_at),
            "理由あり" if finding.reason else "理由未記載",
        )
        for finding in findings
    ]


async def build(session: AsyncSession, flt: ReportFilter, *, now: datetime | None = None) -> Report:
    sections = [
        Section(contract.code, contract_title(contract), await contract_rows(session, contract, flt))
        for contract in await select_contracts(session, flt)
    ]
    return Report(TITLE, COLUMNS, tuple(flt.describe()), tuple(sections), now or utcnow())
