"""Reports for the privacy council and auditors, every kind built here and rendered the same way.

``build`` reads a filtered register's rows from the database (async); ``render`` turns any report into PDF, XLSX
or CSV bytes (blocking and CPU-bound: call it through ``asyncio.to_thread`` from async code).

* ``model`` — what every report is made of: filter, columns, sections, rows
* ``handover`` — the handover register (C-03), read back from the log
* ``media`` — the media register (C-21)
* ``printlog`` — print-log findings (C-17)
* ``deletion`` — deletions and certificates of a contract family (C-04), and the coverage query behind them
* ``access_log`` — one fiscal year's access-log findings and their review (C-11)
* ``inspections`` — one fiscal year's inspections, done or not (C-19)
* ``pdf``, ``xlsx``, ``csvfile`` — the output formats
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.reports import csvfile, handover, media, pdf, printlog, xlsx
from ledger.reports.model import Report, ReportError, ReportFilter

Builder = Callable[..., Awaitable[Report]]
KINDS: Final[dict[str, Builder]] = {"handover": handover.build, "media": media.build, "print": printlog.build}
FORMATS: Final = ("pdf", "xlsx", "csv")


async def build(session: AsyncSession, kind: str, flt: ReportFilter, *, now: datetime | None = None) -> Report:
    if kind not in KINDS:
        raise ReportError(f"帳票の種類は {'、'.join(KINDS)} のいずれかです（{kind}）。")
    return await KINDS[kind](session, flt, now=now)


def render(report: Report, fmt: str, *, encoding: str | None = None) -> bytes:
    if fmt == "pdf":
        return pdf.render(report)
    if fmt == "xlsx":
        return xlsx.render(report)
    if fmt == "csv":
        return csvfile.render(report, encoding or "utf-8-sig")
    raise ReportError(f"形式は {'、'.join(FORMATS)} のいずれかです（{fmt}）。")


__all__ = ["FORMATS", "KINDS", "Report", "ReportError", "ReportFilter", "build", "render"]
