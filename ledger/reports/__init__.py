"""Reports for the privacy council and auditors: handover register, media register, print-log findings.

``build`` reads a report's rows from the database (async); ``render`` turns it into PDF, XLSX or CSV bytes
(blocking and CPU-bound: call it through ``asyncio.to_thread`` from async code).
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
