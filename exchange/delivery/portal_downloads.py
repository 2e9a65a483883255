"""Portal downloads and receipt acknowledgements (C-16, C-03); both refuse what the package's state stops.

Counting rule: a transfer that starts at byte 0 is one download and is counted against the package's limit
(atomically in the database, so concurrent requests from several hub processes cannot exceed it); a request
with a ``Range`` starting later is a resume of a download already counted and is not counted again, but it is
only served to the same account within ``RESUME_WINDOW`` of a counted start, and it is audited. So a broken
1 GB transfer can be resumed without spending the limit, while a fresh copy always costs one.

A receipt is recorded by the recipient in the portal (page or API) or, when they confirm it by phone or in
person, by ward staff with ``handover packages acknowledge``: both go through ``acknowledge`` here, so both
require a designated person and keep the first acknowledgement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.delivery.package_state import PackageRefused, Use, require
from exchange.identity.authorisation import Action
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Designation
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record

RESUME_WINDOW = timedelta(hours=6)


class ReceiptVia(enum.StrEnum):
    """How a receipt reached the hub (the register line's channel)."""

    PORTAL = "portal"  # the recipient acknowledged on the package page or through the API
    STAFF = "staff"  # the recipient confirmed by phone or in person; ward staff recorded it from the CLI


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
    """Count (or, for a resume, check) one transfer and write its register line; raises PackageRefused."""
    require(package, Use.DOWNLOAD)
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
            raise PackageRefused(
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
        raise PackageRefused(
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
    session: AsyncSession,
    package: Package,
    person: Person,
    contract_public_id: str,
    *,
    now: datetime,
    via: ReceiptVia = ReceiptVia.PORTAL,
) -> bool:
    """Record receipt (受領); False when it was already acknowledged (the first acknowledgement stands).

    Raises PackageRefused when the package's state stops it or ``person`` is not designated on its contract.
    """
    require(package, Use.ACKNOWLEDGE)
    designated = await session.scalar(
        select(Designation.id)
        .where(
            Designation.contract_id == package.contract_id,
            Designation.person_id == person.id,
            Designation.revoked_at.is_(None),
        )
        .limit(1)
    )
    if designated is None:
        raise PackageRefused(
            "contract.not_designated",
            "受領確認は、契約で届け出られた取扱責任者・取扱者についてのみ記録できます。",
        )
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
            channel=via.value,
        ),
    )
    return True
