"""Compliance officer's downloads: the registers and findings as PDF/XLSX/CSV, and the deletion certificates.

Read-only like ``exchange.web.compliance``: every page is authorised with ``Action.COMPLIANCE_VIEW`` and every
download is an audit event, committed before the bytes are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, Final

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exchange.identity.audit_log import AuditAction
from exchange.retention import hub_certificate_files as certificate_files
from exchange.web.compliance import _allowed
from exchange.web.context import Page, error_page, page
from exchange.web.responses import content_disposition
from ledger import reports
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.retention import CertificateRequest, HubCertificateStatus, HubDeletionCertificate
from ledger.reports import access_log, deletion
from ledger.reports import inspections as inspection_report
from ledger.wareki import fiscal_year, jst_date

# Kinds offered on the page: the filtered registers (``ledger.reports.KINDS``), then the deletion report (one
# contract family) and the access-log findings (one fiscal year).
KIND_LABELS: Final = {
    "handover": "受渡し台帳",
    "media": "媒体管理台帳",
    "print": "印刷ログ確認結果",
    "deletion": "データ消去状況一覧（契約ごと）",
    "access": "アクセスログ分析結果（年度ごと）",
    "inspections": "実地検査の実施状況（年度ごと）",
}
FORMAT_LABELS: Final = {"pdf": "PDF", "xlsx": "Excel（XLSX）", "csv": "CSV"}
ENCODING_LABELS: Final = {"utf-8-sig": "UTF-8（BOM付き）", "cp932": "CP932（Shift_JIS）"}
CONTENT_TYPES: Final = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
CSV_CHARSETS: Final = {"utf-8-sig": "utf-8", "cp932": "Windows-31J"}
CERTIFICATE_FILES: Final = {"pdf": "application/pdf", "json": "application/json", "sig": "text/plain"}
LIMIT = 500


class BadQuery(ValueError):
    """A download asked with a malformed or missing field; the message is Japanese."""


def _choice(query: Mapping[str, str], key: str, allowed: Mapping[str, str], label: str, default: str = "") -> str:
    value = query.get(key, default)
    if value not in allowed:
        raise BadQuery(f"{label}を選んでください。")
    return value


def _day(query: Mapping[str, str], key: str, label: str) -> date | None:
    text = query.get(key, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{label}は YYYY-MM-DD の形で入力してください（{text}）。") from None


def _year(query: Mapping[str, str]) -> int | None:
    text = query.get("fy", "").strip()
    if not text:
        return None
    if not text.isdigit() or not 2000 <= int(text) <= 9999:
        raise BadQuery(f"年度は西暦の4桁で入力してください（{text}）。")
    return int(text)


def _builder(kind: str, query: Mapping[str, str]) -> tuple[Callable[[AsyncSession], Awaitable[reports.Report]], str]:
    """How to build the asked report, and the filter as one line for the audit log and the file name."""
    contract = query.get("contract", "").strip() or None
    year = _year(query)
    if kind == "deletion":
        if contract is None:
            raise BadQuery("データ消去状況一覧は契約を選んでください。")
        return (lambda session: deletion.build(session, contract)), contract
    if kind == "access":
        if year is None:
            raise BadQuery("アクセスログ分析結果は年度を入力してください。")
        return (lambda session: access_log.build(session, year)), f"{year}年度"
    if kind == "inspections":
        if year is None:
            raise BadQuery("実地検査の実施状況は年度を入力してください。")
        return (lambda session: inspection_report.build(session, year)), f"{year}年度"
    flt = reports.ReportFilter(
        contract=contract,
        fiscal_year=year,
        date_from=_day(query, "from", "期間の開始"),
        date_to=_day(query, "to", "期間の終了"),
    )
    return (lambda session: reports.build(session, kind, flt)), " ".join(flt.describe())


async def _contracts(ctx: Page) -> list[Contract]:
    return list((await ctx.session.scalars(select(Contract).order_by(Contract.code))).all())


async def _form_page(ctx: Page, query: Mapping[str, str], error: str | None = None) -> web.Response:
    context: dict[str, Any] = {
        "kinds": KIND_LABELS,
        "formats": FORMAT_LABELS,
        "encodings": ENCODING_LABELS,
        "contracts": await _contracts(ctx),
        "query": query,
        "current_year": fiscal_year(utcnow()),
        "error": error,
    }
    return ctx.render("compliance_reports.html", context, status=400 if error else 200)


async def reports_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        return await _form_page(ctx, {})


async def report_download(request: web.Request) -> web.StreamResponse:
    query = request.query
    async with page(request, view=False) as ctx:
        await _allowed(ctx)
        detail: dict[str, object] = {"query": dict(query)}
        try:
            kind = _choice(query, "kind", KIND_LABELS, "帳票の種類")
            fmt = _choice(query, "format", FORMAT_LABELS, "形式")
            encoding = _choice(query, "encoding", ENCODING_LABELS, "文字コード", "utf-8-sig")
            build, described = _builder(kind, query)
            built = await build(ctx.session)
            data = await asyncio.to_thread(reports.render, built, fmt, encoding=encoding)
        except (BadQuery, reports.ReportError) as exc:
            ctx.audit(
                AuditAction.COMPLIANCE_REPORT_DOWNLOAD,
                "failed",
                object_type="report",
                detail={**detail, "error": str(exc)},
            )
            return await _form_page(ctx, query, str(exc))
        rows = sum(len(section.rows) for section in built.sections)
        ctx.audit(
            AuditAction.COMPLIANCE_REPORT_DOWNLOAD,
            object_type="report",
            object_id=kind,
            detail={**detail, "filter": described, "rows": rows, "bytes": len(data)},
        )
        await ctx.session.commit()
    content_type = CONTENT_TYPES[fmt]
    if fmt == "csv":
        content_type += f"; charset={CSV_CHARSETS[encoding]}"
    stamp = jst_date(built.created_at).strftime("%Y%m%d")
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": content_disposition(f"{built.title}_{stamp}.{fmt}", f"{kind}-report.{fmt}"),
        },
    )


async def certificates_page(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        await _allowed(ctx)
        hub = (
            await ctx.session.scalars(
                select(HubDeletionCertificate)
                .options(selectinload(HubDeletionCertificate.items))
                .order_by(HubDeletionCertificate.opened_at.desc())
                .limit(LIMIT)
            )
        ).all()
        requests = (
            await ctx.session.scalars(
                select(CertificateRequest)
                .options(
                    selectinload(CertificateRequest.contract),
                    selectinload(CertificateRequest.party),
                    selectinload(CertificateRequest.submissions),
                )
                .order_by(CertificateRequest.requested_at.desc())
                .limit(LIMIT)
            )
        ).all()
        coverage = {request.id: await deletion.coverage_lines(ctx.session, request.contract) for request in requests}
        return ctx.render(
            "compliance_certificates.html",
            {
                "hub": hub,
                "requests": requests,
                "coverage": coverage,
                "issued": HubCertificateStatus.ISSUED,
                "reviews": deletion.REVIEWS_JA,
            },
        )


async def certificate_download(request: web.Request) -> web.StreamResponse:
    public_id, suffix = request.match_info["certificate_id"], request.match_info["suffix"]
    assert suffix in certificate_files.SUFFIXES  # the route allows no other
    async with page(request, view=False) as ctx:
        await _allowed(ctx)
        certificate = await ctx.session.scalar(
            select(HubDeletionCertificate).where(HubDeletionCertificate.public_id == public_id)
        )
        if certificate is None or certificate.status != HubCertificateStatus.ISSUED:
            raise error_page(request, 404, "発行済みの消去証明書が見つかりません。")
        detail = {"number": certificate.number, "file": suffix}
        try:
            if ctx.deps.blobs is None:
                raise certificate_files.CertificateFileRefused("証明書ファイルの保管領域が設定されていません。")
            data = await certificate_files.read_file(ctx.deps.blobs, certificate, suffix)
        except certificate_files.CertificateFileRefused as exc:
            ctx.audit(
                AuditAction.COMPLIANCE_CERTIFICATE_DOWNLOAD,
                "failed",
                object_type="hub_deletion_certificate",
                object_id=public_id,
                detail={**detail, "error": str(exc)},
            )
            await ctx.session.commit()
            damaged = isinstance(exc, certificate_files.CertificateFileDamaged)
            raise error_page(request, 500 if damaged else 503, str(exc)) from None
        ctx.audit(
            AuditAction.COMPLIANCE_CERTIFICATE_DOWNLOAD,
            object_type="hub_deletion_certificate",
            object_id=public_id,
            detail=detail,
        )
        await ctx.session.commit()
        name = f"{certificate.number}.{suffix}"
    return web.Response(
        body=data,
        headers={"Content-Type": CERTIFICATE_FILES[suffix], "Content-Disposition": content_disposition(name, name)},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/compliance/reports", reports_page)
    app.router.add_get("/compliance/reports/download", report_download)
    app.router.add_get("/compliance/certificates", certificates_page)
    app.router.add_get(
        r"/compliance/certificates/{certificate_id:[0-9a-f-]{36}}.{suffix:pdf|json|sig}", certificate_download
    )
