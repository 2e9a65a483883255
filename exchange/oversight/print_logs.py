"""Print logs (C-17): a printer's log is read, matched to the print data delivered, and checked for reprints.

A contractor uploads its log through the portal as CSV (UTF-8, UTF-8 with BOM, or CP932) or XLSX with the
columns 印刷元コンピュータ名, 印刷日時, 印刷ファイル名, 印刷先プリンタ名 and 印刷枚数, and optionally 理由 (再印刷理由,
備考) for reprints; the shorter names some print servers write (端末名, ファイル名, プリンタ名, ページ数) are read
as the same columns. The log is parsed from the upload's bytes in memory, so no plaintext copy is ever written.
Every printed file should be print data the ward delivered under the contract: a row matches a delivered
package when its file name (without the folder a print spooler may add; compared after NFKC and case folding)
equals a file of the package, or failing that has the same stem (a PDF printed from a delivered CSV).

Findings that need a reason from the printer: a file printed more than once under the contract (in this log or
counting earlier ones); a file that matches no delivered print data; and a first print whose page count does
not fit the delivered file's record count (not a whole number of pages per notice). Reasons in the log are
taken at upload; missing ones are given later on the portal. Upload, findings and reasons are register lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.packages import Package
from ledger.models.registers import PrintFinding, PrintFindingKind, PrintLog, PrintLogRow
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.reports.printlog import file_key
from ledger.wareki import JST
from policies.errors import PolicyRefusal
from policies.tabular import read_table, table_kind

COLUMNS = {
    "computer": "印刷元コンピュータ名",
    "printed_at": "印刷日時",
    "file_name": "印刷ファイル名",
    "printer": "印刷先プリンタ名",
    "pages": "印刷枚数",
}
# The names the S2 print servers write (the S2 plugin's former format), read as the same columns.
ALIASES = {"端末名": "computer", "ファイル名": "file_name", "プリンタ名": "printer", "ページ数": "pages"}
REASON_COLUMNS = ("理由", "再印刷理由", "備考")
MAX_LOG_BYTES = 20 * 1024 * 1024  # a month's log of a busy print shop is a few MB; it is parsed in memory
TOO_LARGE = f"印刷ログが大きすぎます（上限 {MAX_LOG_BYTES // (1024 * 1024)} MB）。月ごとに分けて提出してください"
_MAX_PROBLEMS = 20
_TIMESTAMP = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")


class PrintLogError(ValueError):
    """The log cannot be taken in; ``problems`` says why, in Japanese, with the place in the file."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class ParsedRow:
    line: int
    computer: str
    printed_at: datetime
    file_name: str
    printer: str
    pages: int
    reason: str | None


@dataclass(frozen=True)
class ParsedLog:
    encoding: str
    sha256: str
    rows: tuple[ParsedRow, ...]


def _stem(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else key


def _timestamp(text: str) -> datetime:
    found = _TIMESTAMP.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        raise ValueError(f"印刷日時「{text}」を読めません（例: 2026/08/03 10:15:00）")
    year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
    # Printers log local wall-clock time; the hub stores UTC.
    return datetime(year, month, day, hour, minute, second, tzinfo=JST)


def _pages(text: str) -> int:
    digits = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    if not digits.isdecimal() or int(digits) == 0:
        raise ValueError(f"印刷枚数「{text}」は1以上の整数ではありません")
    return int(digits)


def _columns(header: list[str]) -> tuple[dict[str, int], int | None]:
    """Where each column is, or ``PrintLogError`` naming the missing ones by their full names."""
    where: dict[str, int] = {}
    for index, name in enumerate(header):
        key = next((k for k, full in COLUMNS.items() if full == name), None) or ALIASES.get(name)
        if key is not None:
            where.setdefault(key, index)
    missing = [name for key, name in COLUMNS.items() if key not in where]
    if missing:
        raise PrintLogError(
            [f"印刷ログの見出しに必要な列がありません: {'、'.join(missing)}（必要な列: {'、'.join(COLUMNS.values())}）"]
        )
    reason_at = next((header.index(name) for name in REASON_COLUMNS if name in header), None)
    return where, reason_at


def parse_print_log(data: bytes, file_name: str, encoding: str | None = None) -> ParsedLog:
    """Read a whole print log held in memory or raise ``PrintLogError`` listing what is wrong (CPU-bound: run
    it in a thread)."""
    kind = table_kind(Path(file_name))
    if kind is None:
        raise PrintLogError(["印刷ログはCSVまたはExcel（.xlsx）のファイルで提出してください"])
    if len(data) > MAX_LOG_BYTES:
        raise PrintLogError([TOO_LARGE])
    try:
        with read_table(io.BytesIO(data), kind, encoding=encoding) as table:
            header = [unicodedata.normalize("NFKC", cell).strip() for cell in table.header]
            where, reason_at = _columns(header)
            rows: list[ParsedRow] = []
            problems: list[str] = []
            for cells in table:
                cells = cells + [""] * (len(header) - len(cells))
                try:
                    rows.append(
                        ParsedRow(
                            line=table.record,
                            computer=cells[where["computer"]].strip(),
                            printed_at=_timestamp(cells[where["printed_at"]]),
                            file_name=cells[where["file_name"]].strip(),
                            printer=cells[where["printer"]].strip(),
                            pages=_pages(cells[where["pages"]]),
                            reason=(cells[reason_at].strip() or None) if reason_at is not None else None,
                        )
                    )
                except ValueError as exc:
                    problems.append(f"{table.location}: {exc}")
                if len(problems) >= _MAX_PROBLEMS:
                    problems.append("以降の確認は省略しました")
                    break
            encoding_used = table.format.encoding or "xlsx"
    except PolicyRefusal as exc:
        raise PrintLogError([exc.reason]) from exc
    if problems:
        raise PrintLogError(problems)
    if not rows:
        raise PrintLogError(["印刷の記録が1件もありません"])
    return ParsedLog(encoding_used, hashlib.sha256(data).hexdigest(), tuple(rows))


@dataclass(frozen=True)
class IngestResult:
    print_log: PrintLog
    findings: list[PrintFinding]


@dataclass(frozen=True)
class _Delivered:
    package_id: int
    records: int | None  # the delivered file's record count, when its manifest says


async def _delivered_files(
    session: AsyncSession, contract: Contract
) -> tuple[dict[str, _Delivered], dict[str, _Delivered]]:
    """Delivered print data of the contract by exact file key and by stem, each to its package."""
    packages = await session.scalars(
        select(Package).where(Package.contract_id == contract.id, Package.delivered_at.is_not(None))
    )
    exact: dict[str, _Delivered] = {}
    stems: dict[str, _Delivered] = {}
    for package in packages:
        for item in package.content.get("files", []):
            key = file_key(str(item["name"]))
            records = item.get("records")
            delivered = _Delivered(package.id, int(records) if isinstance(records, int) and records > 0 else None)
            exact.setdefault(key, delivered)
            stems.setdefault(_stem(key), delivered)
    return exact, stems


async def _earlier_prints(session: AsyncSession, contract: Contract) -> Counter[str]:
    names = await session.scalars(
        select(PrintLogRow.file_name).join(PrintLog).where(PrintLog.contract_id == contract.id)
    )
    return Counter(file_key(name) for name in names)


def finding_text(finding: PrintFinding) -> str:
    """The finding as a person reads it (register line, portal pages)."""
    state = f"理由: {finding.reason}" if finding.reason else "理由未記載"
    if finding.kind is PrintFindingKind.DUPLICATE:
        return f"重複印刷 {finding.file_name}（{finding.print_count}回目まで、{state}）"
    if finding.kind is PrintFindingKind.PAGES:
        return f"印刷枚数がレコード件数に合わない {finding.file_name}（{finding.detail}、{state}）"
    return f"納品した印刷データにないファイルの印刷 {finding.file_name}"


def _pages_finding(
    shown: str, rows: list[PrintLogRow], delivered: _Delivered | None, earlier: int
) -> PrintFinding | None:
    """The first print of a delivered file must be a whole number of pages per record (per notice)."""
    if earlier or delivered is None or delivered.records is None:
        return None
    pages = rows[0].pages
    if pages >= delivered.records and pages % delivered.records == 0:
        return None
    return PrintFinding(
        kind=PrintFindingKind.PAGES,
        file_name=shown,
        print_count=earlier + len(rows),
        detail=f"印刷 {pages:,}枚、レコード {delivered.records:,}件",
        reason=rows[0].reason,
    )


async def ingest(
    session: AsyncSession,
    contract: Contract,
    data: bytes,
    *,
    file_name: str,
    uploaded_by: str,
    encoding: str | None = None,
    channel: str | None = None,
    at: datetime | None = None,
) -> IngestResult:
    """Take in one uploaded print log for ``contract``; nothing is stored when it cannot be read."""
    parsed = await asyncio.to_thread(parse_print_log, data, file_name, encoding)
    known = await session.scalar(
        select(PrintLog.id).where(PrintLog.contract_id == contract.id, PrintLog.sha256 == parsed.sha256)
    )
    if known is not None:
        raise PrintLogError(["同じ印刷ログは既に受け付けています"])
    exact, stems = await _delivered_files(session, contract)
    earlier = await _earlier_prints(session, contract)
    moment = at or utcnow()
    print_log = PrintLog(
        contract_id=contract.id,
        party_id=contract.party_id,
        file_name=file_name,
        sha256=parsed.sha256,
        encoding=parsed.encoding,
        uploaded_by=uploaded_by,
        uploaded_at=moment,
    )
    by_file: dict[str, list[PrintLogRow]] = defaultdict(list)
    for row in parsed.rows:
        key = file_key(row.file_name)
        stored = PrintLogRow(
            line=row.line,
            computer=row.computer,
            printed_at=row.printed_at,
            file_name=row.file_name,
            printer=row.printer,
            pages=row.pages,
            reason=row.reason,
        )
        delivered = exact.get(key, stems.get(_stem(key)))
        stored.package_id = delivered.package_id if delivered is not None else None
        print_log.rows.append(stored)
        by_file[key].append(stored)
    session.add(print_log)
    await session.flush()

    findings: list[PrintFinding] = []
    for key, rows in by_file.items():
        shown = PurePath(rows[0].file_name.replace("\\", "/")).name
        total = earlier[key] + len(rows)
        if total > 1:
            reasons = list(dict.fromkeys(row.reason for row in rows if row.reason))
            findings.append(
                PrintFinding(
                    kind=PrintFindingKind.DUPLICATE,
                    file_name=shown,
                    print_count=total,
                    reason="／".join(reasons) or None,
                )
            )
        if rows[0].package_id is None:
            findings.append(PrintFinding(kind=PrintFindingKind.UNMATCHED, file_name=shown, print_count=total))
        misfit = _pages_finding(shown, rows, exact.get(key, stems.get(_stem(key))), earlier[key])
        if misfit is not None:
            findings.append(misfit)
    for finding in findings:
        if finding.reason is not None:
            finding.reason_by, finding.reason_at = uploaded_by, moment
        finding.print_log_id, finding.contract_id, finding.found_at = print_log.id, contract.id, moment
    session.add_all(findings)
    await session.flush()

    pages = sum(row.pages for row in parsed.rows)
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PRINTLOG_RECEIVED,
            category=Category.RECEIVED,
            content=f"印刷ログ {print_log.file_name}（{len(parsed.rows)}件、{pages}枚）",
            contract_id=contract.public_id,
            handler_from=uploaded_by,
            quantity={"files": 1, "rows": len(parsed.rows), "pages": pages},
            channel=channel,
            details={"print_log_id": print_log.public_id, "sha256": parsed.sha256, "encoding": parsed.encoding},
        ),
    )
    for finding in findings:
        await _record_finding(session, contract, finding, RegisterKind.PRINTLOG_FINDING, uploaded_by)
    return IngestResult(print_log, findings)


async def _record_finding(
    session: AsyncSession, contract: Contract, finding: PrintFinding, kind: RegisterKind, handler: str | None
) -> None:
    await record(
        session,
        RegisterEntry(
            kind=kind,
            category=Category.ADMIN,
            content=finding_text(finding),
            contract_id=contract.public_id,
            handler_from=handler,
            details={
                "finding_id": finding.public_id,
                "finding": finding.kind.value,
                "file_name": finding.file_name,
                "print_count": finding.print_count,
                "reason": finding.reason,
            },
        ),
    )


async def give_reason(
    session: AsyncSession, finding: PrintFinding, reason: str, *, given_by: str, at: datetime | None = None
) -> PrintFinding:
    """Accept the contractor's explanation for a finding; a reason once given is kept, not replaced."""
    text = reason.strip()
    if not text:
        raise PrintLogError(["理由が空です"])
    if finding.reason is not None:
        raise PrintLogError([f"{finding.file_name} の理由は記録済みです（{finding.reason}）"])
    finding.reason, finding.reason_by, finding.reason_at = text, given_by, at or utcnow()
    await session.flush()
    contract = await session.get(Contract, finding.contract_id)
    assert contract is not None  # enforced by the foreign key
    await _record_finding(session, contract, finding, RegisterKind.PRINTLOG_REASON, given_by)
    return finding


async def open_findings(session: AsyncSession, contract_ids: Sequence[int] = ()) -> list[PrintFinding]:
    """Findings still waiting for a reason, oldest first."""
    query = (
        select(PrintFinding)
        .options(selectinload(PrintFinding.contract))
        .where(PrintFinding.reason.is_(None))
        .order_by(PrintFinding.id)
    )
    if contract_ids:
        query = query.where(PrintFinding.contract_id.in_(contract_ids))
    return list((await session.scalars(query)).all())


async def contract_findings(session: AsyncSession, contract: Contract) -> list[PrintFinding]:
    """Every finding of the contract, newest first, with its log: what the printer and ward staff see."""
    query = (
        select(PrintFinding)
        .options(selectinload(PrintFinding.print_log))
        .where(PrintFinding.contract_id == contract.id)
        .order_by(PrintFinding.id.desc())
    )
    return list((await session.scalars(query)).all())


async def finding_of(session: AsyncSession, contract: Contract, public_id: str) -> PrintFinding:
    """The contract's finding ``public_id``, or ``PrintLogError``."""
    finding = await session.scalar(
        select(PrintFinding).where(PrintFinding.public_id == public_id, PrintFinding.contract_id == contract.id)
    )
    if finding is None:
        raise PrintLogError(["指摘事項が見つかりません"])
    return finding
