"""Rows of the media register (C-21): every DVD with its contents, hand-over, due date and return."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.registers import Medium
from ledger.reports.model import (
    Cell,
    Column,
    Report,
    ReportFilter,
    Section,
    contract_title,
    select_contracts,
    wareki_date_cell,
    wareki_datetime_cell,
)
from ledger.wareki import jst_date

TITLE = "電磁的記録媒体管理簿"
COLUMNS = (
    Column("媒体番号", 14),  # DVD-YYYY-XXXXXX is read aloud and matched to the disc: keep it on one line
    Column("作成日時", 12),
    Column("作成者", 8),
    Column("収録内容", 22),
    Column("イメージSHA-256", 12),
    Column("引渡日時", 12),
    Column("引渡者", 8),
    Column("受領者", 8),
    Column("返却期限", 11),
    Column("返却日時", 12),
    Column("状態", 8),
)


def status(medium: Medium, today: date) -> str:
    if medium.handed_at is None:
        return "未引渡"
    if medium.returned_at is not None:
        late = medium.due_back_on is not None and jst_date(medium.returned_at) > medium.due_back_on
        return "返却済（期限後）" if late else "返却済"
    if medium.due_back_on is not None and medium.due_back_on < today:
        return "返却期限超過"
    return "貸出中"


def _contents(medium: Medium) -> str:
    return "、".join(f"{item['name']}（{item['size']:,}バイト）" for item in medium.contents)


async def contract_rows(
    session: AsyncSession, contract: Contract, flt: ReportFilter, today: date
) -> list[tuple[Cell, ...]]:
    """Media of one contract prepared within the filter's period, in order of preparation."""
    start, end = flt.utc_bounds()
    query = select(Medium).where(Medium.contract_id == contract.id).order_by(Medium.prepared_at, Medium.media_id)
    if start is not None:
        query = query.where(Medium.prepared_at >= start)
    if end is not None:
        query = query.where(Medium.prepared_at < end)
    return [
        (
            medium.media_id,
            wareki_datetime_cell(medium.prepared_at),
            medium.prepared_by,
            _contents(medium),
            medium.image_sha256,
            wareki_datetime_cell(medium.handed_at),
            medium.handed_by or "",
            medium.handed_to or "",
            wareki_date_cell(medium.due_back_on),
            wareki_datetime_cell(medium.returned_at),
            status(medium, today),
        )
        for medium in await session.scalars(query)
    ]


async def build(session: AsyncSession, flt: ReportFilter, *, now: datetime | None = None) -> Report:
    created = now or utcnow()
    today = jst_date(created)
    sections = [
        Section(contract.code, contract_title(contract), await contract_rows(session, contract, flt, today))
        for contract in await select_contracts(session, flt)
    ]
    return Report(TITLE, COLUMNS, tuple(flt.describe()), tuple(sections), created)
