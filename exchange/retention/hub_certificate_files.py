"""Files of issued hub deletion certificates, kept in the blob store: ``certificates/<public id>.json`` (the
signed bytes), ``.sig`` (the detached signature) and ``.pdf`` (the printable certificate).

The database row is the record; the files are derived from it. Each put is atomic (the store's promise) and the
row records every key with the SHA-256 of the bytes put there, so any hub process sharing the database and the
store serves the same files and refuses one that is missing or changed (``read_file``). On issue the files are
written after the row commits, so a crash in between only means the next sweep writes them (``export_missing``).
A staff validation rewrites the PDF before its transaction commits: should that commit fail, the stored PDF no
longer has the recorded hash and is refused until the validation is made again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.store import BlobError, BlobInfo, BlobMissing, BlobStore, blob_key
from ledger.documents.duty_pdfs import Document, Section, render
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki

Suffix = Literal["json", "sig", "pdf"]
SUFFIXES: Final[tuple[Suffix, ...]] = get_args(Suffix)

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


class CertificateFileRefused(ValueError):
    """A certificate file cannot be served; the message is Japanese and says why."""


class CertificateFileDamaged(CertificateFileRefused):
    """The store lost or changed a file the row records: not a wait-and-retry, a matter for the operator."""


async def find_issued(session: AsyncSession, name: str) -> HubDeletionCertificate:
    """The issued certificate with this number or public id; anything else is refused in Japanese."""
    certificate = await session.scalar(
        select(HubDeletionCertificate).where(
            or_(HubDeletionCertificate.number == name, HubDeletionCertificate.public_id == name)
        )
    )
    if certificate is None or certificate.status != HubCertificateStatus.ISSUED:
        raise CertificateFileRefused(f"発行済みの消去証明書「{name}」が見つかりません。")
    return certificate


def file_key(certificate: HubDeletionCertificate, suffix: Suffix) -> str:
    return blob_key("certificates", f"{certificate.public_id}.{suffix}")


def recorded(certificate: HubDeletionCertificate, suffix: Suffix) -> tuple[str | None, str | None]:
    """The key and SHA-256 the row records for one file (None before it is written)."""
    c = certificate
    return {
        "json": (c.json_key, c.json_sha256),
        "sig": (c.sig_key, c.sig_sha256),
        "pdf": (c.pdf_key, c.pdf_sha256),
    }[suffix]


def _record(certificate: HubDeletionCertificate, info: BlobInfo, suffix: Suffix) -> None:
    if suffix == "json":
        certificate.json_key, certificate.json_sha256 = info.key, info.sha256
    elif suffix == "sig":
        certificate.sig_key, certificate.sig_sha256 = info.key, info.sha256
    else:
        certificate.pdf_key, certificate.pdf_sha256 = info.key, info.sha256


async def _derived(certificate: HubDeletionCertificate, suffix: Suffix) -> bytes:
    assert certificate.document is not None and certificate.signature
    if suffix == "json":
        return certificate.document.encode("utf-8")
    if suffix == "sig":
        return certificate.signature.encode("ascii") + b"\n"
    return await asyncio.to_thread(certificate_pdf, certificate)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def write_files(
    blobs: BlobStore, certificate: HubDeletionCertificate, suffixes: tuple[Suffix, ...] = SUFFIXES
) -> None:
    """Put the files derived from the row into the store and note their keys and hashes on the row (the caller
    commits)."""
    assert certificate.status == HubCertificateStatus.ISSUED
    for suffix in suffixes:
        info = await blobs.put(file_key(certificate, suffix), _once(await _derived(certificate, suffix)))
        _record(certificate, info, suffix)


async def export_missing(sessions: async_sessionmaker[AsyncSession], blobs: BlobStore) -> list[str]:
    """Write the files of every issued certificate whose row records none yet; the numbers written."""
    async with sessions() as session:
        missing = (
            await session.scalars(
                select(HubDeletionCertificate.id).where(
                    HubDeletionCertificate.status == HubCertificateStatus.ISSUED,
                    or_(
                        HubDeletionCertificate.json_key.is_(None),
                        HubDeletionCertificate.sig_key.is_(None),
                        HubDeletionCertificate.pdf_key.is_(None),
                    ),
                )
            )
        ).all()
    written = []
    for certificate_id in missing:
        async with sessions() as session, session.begin():
            certificate = await session.get_one(HubDeletionCertificate, certificate_id, with_for_update=True)
            absent = tuple(suffix for suffix in SUFFIXES if recorded(certificate, suffix)[0] is None)
            if absent:  # another process may have written them since the query above
                await write_files(blobs, certificate, absent)
                assert certificate.number is not None
                written.append(certificate.number)
    return written


async def read_file(blobs: BlobStore, certificate: HubDeletionCertificate, suffix: Suffix) -> bytes:
    """The stored file's bytes, after checking them against the hash the row records."""
    key, sha256 = recorded(certificate, suffix)
    if key is None or sha256 is None:
        raise CertificateFileRefused(
            f"消去証明書 {certificate.number} のファイル（{suffix}）はまだ保管領域に書き出されていません。"
            "次回の保存期限処理（または handover certificates export）で書き出されます。"
        )
    digest, parts = hashlib.sha256(), []
    try:
        async for chunk in blobs.read(key):
            digest.update(chunk)
            parts.append(chunk)
    except BlobMissing:
        raise CertificateFileDamaged(
            f"消去証明書 {certificate.number} のファイル（{suffix}）が保管領域に見つかりません。"
        ) from None
    except BlobError as exc:
        raise CertificateFileRefused(
            f"消去証明書 {certificate.number} のファイル（{suffix}）を保管領域から読み出せませんでした（{exc}）。"
        ) from exc
    if digest.hexdigest() != sha256:
        raise CertificateFileDamaged(
            f"消去証明書 {certificate.number} のファイル（{suffix}）の内容が記録されたハッシュ値と一致しません"
            "（改変または破損のおそれ）。提供を中止しました。"
        )
    return b"".join(parts)


async def approve(
    sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, number: str, *, by: str, comment: str, at: datetime
) -> HubDeletionCertificate:
    """A staff member validates an issued certificate (App. G "validation"); the PDF is rewritten to show it."""
    async with sessions() as session, session.begin():
        certificate = await session.scalar(
            select(HubDeletionCertificate).where(HubDeletionCertificate.number == number).with_for_update()
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
        # The PDF shows the validation; the JSON and signature never change (written here if still missing).
        await write_files(
            blobs, certificate, tuple(s for s in SUFFIXES if s == "pdf" or not recorded(certificate, s)[0])
        )
    return certificate
