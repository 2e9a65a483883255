"""What every report is made of, whatever its format: filters, columns, one section per contract, rows.

Row builders (``handover``, ``media``, ``printlog``) turn database rows into a :class:`Report`; format modules
(``pdf``, ``xlsx``, ``csvfile``) turn a report into bytes. Cells are text or integers, already formatted for a
person to read (和暦 dates in JST).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.contracts import Contract, Program
from ledger.models.parties import Party
from ledger.wareki import JST, fiscal_year, jst_date, jst_midnight, to_wareki

Cell = str | int
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReportError(ValueError):
    """The report cannot be made as asked; the message is Japanese, for the person who asked."""


def neutralise(value: Cell) -> Cell:
    """Prefix text that a spreadsheet would run as a formula with ``'``, so it is shown as typed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def wareki_datetime_cell(moment: datetime | None) -> str:
    """A moment as a report cell: ``令和8年8月3日 10:15`` (JST); empty for None."""
    if moment is None:
        return ""
    return f"{to_wareki(moment)} {moment.astimezone(JST):%H:%M}"


def wareki_date_cell(day: date | None) -> str:
    """A JST calendar day as a report cell: ``令和8年8月3日``; empty for None."""
    return "" if day is None else to_wareki(day)


def fiscal_year_label(year: int) -> str:
    """``令和8年度（2026年度）``: the era in force on the fiscal year's first day, as budgets are named."""
    first_day = to_wareki(date(year, 4, 1))
    return f"{first_day[: first_day.index('年')]}年度（{year}年度）"


@dataclass(frozen=True)
class ReportFilter:
    """Which contracts and which period. Dates are JST calendar days, both ends included."""

    contract: str | None = None
    program: str | None = None
    party: str | None = None
    fiscal_year: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ReportError(f"期間の開始 {to_wareki(self.date_from)} が終了 {to_wareki(self.date_to)} より後です。")

    def includes(self, moment: datetime) -> bool:
        day = jst_date(moment)
        if self.fiscal_year is not None and fiscal_year(day) != self.fiscal_year:
            return False
        if self.date_from is not None and day < self.date_from:
            return False
        return self.date_to is None or day <= self.date_to

    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The period as a half-open UTC range ``[start, end)`` for queries; None where open."""
        starts = [self.date_from] if self.date_from else []
        ends = [self.date_to + timedelta(days=1)] if self.date_to else []
        if self.fiscal_year is not None:
            starts.append(date(self.fiscal_year, 4, 1))
            ends.append(date(self.fiscal_year + 1, 4, 1))

        def midnight(day: date) -> datetime:
            return jst_midnight(day).astimezone(UTC)

        return (midnight(max(starts)) if starts else None, midnight(min(ends)) if ends else None)

    def describe(self) -> list[str]:
        lines = []
        if self.contract:
            lines.append(f"契約: {self.contract}")
        if self.program:
            lines.append(f"業務: {self.program}")
        if self.party:
            lines.append(f"相手方: {self.party}")
        if self.fiscal_year is not None:
            lines.append(f"年度: {fiscal_year_label(self.fiscal_year)}")
        if self.date_from or self.date_to:
            start, end = (wareki_date_cell(day) or "（指定なし）" for day in (self.date_from, self.date_to))
            lines.append(f"期間: {start} ～ {end}")
        return lines or ["条件: すべて"]


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # relative width, in characters of a Japanese text column


@dataclass(frozen=True)
class Section:
    """One contract's part of a report: a PDF section, an XLSX sheet, a run of CSV lines."""

    code: str
    title: str
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    title: str
    columns: tuple[Column, ...]
    filters: tuple[str, ...]
    sections: tuple[Section, ...]
    created_at: datetime


async def select_contracts(session: AsyncSession, flt: ReportFilter) -> list[Contract]:
    """The contracts the filter names, by code, with program and party loaded; refuses unknown codes."""
    query = select(Contract).options(selectinload(Contract.program), selectinload(Contract.party))
    for code, model, column, label in (
        (flt.contract, Contract, Contract.code, "契約"),
        (flt.program, Program, Program.code, "業務"),
        (flt.party, Party, Party.code, "相手方"),
    ):
        if code is None:
            continue
        if await session.scalar(select(model.id).where(column == code)) is None:
            raise ReportError(f"{label}コード「{code}」は登録されていません。")
    if flt.contract is not None:
        query = query.where(Contract.code == flt.contract)
    if flt.program is not None:
        query = query.where(Contract.program.has(Program.code == flt.program))
    if flt.party is not None:
        query = query.where(Contract.party.has(Party.code == flt.party))
    contracts = list((await session.scalars(query.order_by(Contract.code))).all())
    if not contracts:
        raise ReportError("条件に合う契約がありません。")
    return contracts


def contract_title(contract: Contract) -> str:
    return f"{contract.name}（{contract.code}）／{contract.party.name}"
