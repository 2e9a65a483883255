"""Files of issued hub deletion certificates: ``NUMBER.json`` (the signed bytes), ``NUMBER.sig``, ``NUMBER.pdf``.

The database row is the record; the files are derived from it and written after the row commits, so a crash in
between only means they are written by the next sweep (``export_missing``). Each is written to a temporary name
and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.documents.duty_pdfs import Document, Section, render
from ledger.files import write_atomic
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki

ISSUER = "個人情報受渡しハブ（handover）"


def _when(text: str | None) -> str:
    if not text:
        return "-"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return f"{to_wareki(moment)}（{text}）"


def certificate_pdf(certificate: HubDeletionCertificate) -> bytes:
    assert certificate.document is not None and certificate.issued_at is not None
    doc: dict[str, Any] = json.loads(certificate.document)
    rows = []
    for package in doc["packages"]:
        for copy in package["copies"]:
            rows.append(
                [
                    f"{package['zip_name']}\n{package['contract']['code']}",
                    f"{package['size']:,} バイト\nSHA-256 {package['sha256'][:16]}…",
                    copy.get("connector") or copy["target"],
                    copy["method_ja"],
                    copy["verification"],
                ]
            )
    validation = (
        f"{certificate.validated_by}（{to_wareki(certificate.validated_at)}）"
        if certificate.validated_by and certificate.validated_at
        else "未確認（担当職員の確認待ち）"
    )
    return render(
        Document(
            title="電子データ消去証明書",
            date_line=f"証明書番号 {doc['number']}　{to_wareki(certificate.issued_at)}",
            issuer=ISSUER,
            sections=(
                Section(
                    "1．概要",
                    pairs=(
                        ("消去実施者", "システム（handover 保存期限処理）"),
                        ("使用ツール", f"{doc['tool']['name']} {doc['tool']['version']}"),
                        ("処理開始", _when(doc["sweep_started_at"])),
                        ("発行日時", _when(doc["issued_at"])),
                        ("対象パッケージ数", f"{len(doc['packages'])}件"),
                        ("検証", f"{doc['verification']['performed']}：{doc['verification']['result']}"),
                        ("確認者（職員）", validation),
                    ),
                ),
                Section(
                    "2．消去対象・場所・方法・検証",
                    header=("パッケージ・契約", "大きさ・ハッシュ", "場所", "方法", "検証結果"),
                    rows=rows,
                ),
                Section(
                    "3．署名",
                    notes=(
                        f"同名の .json ファイルの内容（正規化JSON）に対する Ed25519 署名を .sig ファイルに"
                        f"格納しています。検証鍵：{doc['signature']['vkey']}",
                        "方式は NIST SP 800-88 Rev.1 付録G の消去証明書の項目に準拠しています。",
                    ),
                ),
            ),
        )
    )


def paths_for(directory: Path, number: str) -> tuple[Path, Path, Path]:
    return directory / f"{number}.json", directory / f"{number}.sig", directory / f"{number}.pdf"


async def write_files(certificate: HubDeletionCertificate, directory: Path) -> None:
    assert certificate.number is not None and certificate.document is not None and certificate.signature
    json_path, sig_path, pdf_path = paths_for(directory, certificate.number)
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    # Readable as the umask allows: these are the hub's published proof, not secrets.
    await asyncio.to_thread(write_atomic, json_path, certificate.document.encode("utf-8"), mode=None)
    await asyncio.to_thread(write_atomic, sig_path, certificate.signature.encode("ascii") + b"\n", mode=None)
    pdf = await asyncio.to_thread(certificate_pdf, certificate)
    await asyncio.to_thread(write_atomic, pdf_path, pdf, mode=None)


async def export_missing(sessions: async_sessionmaker[AsyncSession], directory: Path) -> list[str]:
    """Write the files of every issued certificate that lacks them; the numbers written."""
    async with sessions() as session:
        issued = (
            await session.scalars(
                select(HubDeletionCertificate).where(HubDeletionCertificate.status == HubCertificateStatus.ISSUED)
            )
        ).all()
    written = []
    for certificate in issued:
        assert certificate.number is not None
        present = [await asyncio.to_thread(path.exists) for path in paths_for(directory, certificate.number)]
        if not all(present):
            await write_files(certificate, directory)
            written.append(certificate.number)
    return written


async def approve(
    sessions: async_sessionmaker[AsyncSession], directory: Path, number: str, *, by: str, comment: str, at: datetime
) -> HubDeletionCertificate:
    """A staff member validates an issued certificate (App. G "validation"); the PDF is rewritten to show it."""
    async with sessions() as session, session.begin():
        certificate = await session.scalar(
            select(HubDeletionCertificate).where(HubDeletionCertificate.number == number)
        )
        if certificate is None or certificate.status != HubCertificateStatus.ISSUED:
            raise ValueError(f"発行済みの消去証明書「{number}」が見つかりません。")
        if certificate.validated_at is not None:
            raise ValueError(f"消去証明書「{number}」は確認済みです（{certificate.validated_by}）。")
        certificate.validated_by, certificate.validated_at, certificate.validation_comment = by, at, comment
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.CERTIFICATE_HUB_VALIDATED,
                category=Category.ERASED,
                content=f"電子データ消去証明書（ハブ）{number} の内容を確認",
                handler_from=by,
                details={"certificate_id": certificate.public_id, "comment": comment},
            ),
        )
    await write_files(certificate, directory)
    return certificate
