"""Portal downloads and receipt acknowledgements (C-16, C-03).

Counting rule: a transfer that starts at byte 0 is one download and is counted against the package's limit
(atomically in the database, so concurrent requests from several hub processes cannot exceed it); a request
with a ``Range`` starting later is a resume of a download already counted and is not counted again, but it is
only served to the same account within ``RESUME_WINDOW`` of a counted start, and it is audited. So a broken
1 GB transfer can be resumed without spending the limit, while a fresh copy always costs one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity.authorisation import Action
from ledger.models.audit import AuditEvent
from ledger.models.packages import Package, PackageStatus
from ledger.models.parties import Person
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record

RESUME_WINDOW = timedelta(hours=6)


class DownloadRefused(Exception):
    def __init__(self, code: str, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.code = code
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class DownloadStart:
    counted: bool
    number: int  # which counted download this transfer belongs to


async def start(
    session: AsyncSession,
    package: Package,
    person: Person,
    contract_public_id: str,
    *,
    account_id: int,
    resume: bool,
    now: datetime,
) -> DownloadStart:
    """Count (or, for a resume, check) one transfer and write its register line; raises DownloadRefused."""
    if package.frozen_at is not None:
        raise DownloadRefused(
            "download.frozen",
            "事故対応のためこのデータは凍結されています。区の指示があるまでダウンロードできません。",
        )
    if package.revoked_at is not None:
        raise DownloadRefused(
            "download.revoked", "区がこのデータの提供を取り消しました。区の担当者に連絡してください。"
        )
    if package.status == PackageStatus.DELETED or package.deleted_at is not None:
        raise DownloadRefused("download.deleted", "このデータは保存期間を過ぎて消去済みです。")
    if resume:
        previous = (
            await session.execute(
                select(AuditEvent.id)
                .where(
                    AuditEvent.action == Action.PACKAGE_DOWNLOAD,
                    AuditEvent.outcome == "allowed",
                    AuditEvent.account_id == account_id,
                    AuditEvent.object_id == package.public_id,
                    AuditEvent.at > now - RESUME_WINDOW,
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if previous is None:
            raise DownloadRefused(
                "download.resume_without_start",
                "途中からの再開は、直近に開始したダウンロードについてのみ可能です。最初からダウンロードしてください。",
            )
        return DownloadStart(counted=False, number=package.download_count)
    result = await session.execute(
        update(Package)
        .where(Package.id == package.id, Package.download_count < Package.download_limit)
        .values(download_count=Package.download_count + 1)
        .returning(Package.download_count)
    )
    number = result.scalar_one_or_none()
    if number is None:
        raise DownloadRefused(
            "download.limit_reached",
            f"ダウンロード回数の上限（{package.download_limit}回）に達しました。"
            "追加が必要な場合は区の担当者に連絡してください。",
        )
    package.download_count = number
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PACKAGE_DOWNLOADED,
            category=Category.PROVIDED,
            content=f"ポータルからのダウンロード（{package.zip_name}、{number}回目／上限{package.download_limit}回）",
            contract_id=contract_public_id,
            package_id=package.public_id,
            handler_from="system",
            handler_to=person.name,
            quantity={"files": 1, "bytes": package.size},
            channel="portal",
            details={"download": number, "limit": package.download_limit},
        ),
    )
    return DownloadStart(counted=True, number=number)


async def acknowledge(
    session: AsyncSession, package: Package, person: Person, contract_public_id: str, *, now: datetime
) -> bool:
    """Record receipt (受領); False when it was already acknowledged (the first acknowledgement stands)."""
    if package.acknowledged_at is not None:
        return False
    package.acknowledged_at = now
    package.acknowledged_by_id = person.id
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PACKAGE_ACKNOWLEDGED,
            category=Category.RECEIVED,
            content=f"受領確認（{package.zip_name}）",
            contract_id=contract_public_id,
            package_id=package.public_id,
            handler_from="system",
            handler_to=person.name,
            quantity={"files": 1, "bytes": package.size},
            channel="portal",
        ),
    )
    return True
