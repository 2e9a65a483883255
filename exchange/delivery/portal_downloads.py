"""Portal downloads and receipt acknowledgements (C-16, C-03); both refuse what the package's state stops.

Counting rule: a transfer that starts at byte 0 is one download and is counted against the package's limit
(atomically in the database, so concurrent requests from several hub processes cannot exceed it). A request
with a ``Range`` starting later is an uncounted resume only when the same account's latest transfer of that
package (within ``RESUME_WINDOW``) ended interrupted: the portal records the end of every transfer
(``package.download.end`` in the audit trail, ``completed`` true or false), and a resume is itself a transfer,
so one interruption buys one uncounted resume. Any other ``Range`` request (after a completed transfer, with
no transfer before, or while one is still running) is counted as a new download. The check and the resume's
own audit row are made under a lock on the package row, so parallel resumes cannot share one interruption.
So a broken 1 GB transfer can be resumed without spending the limit, while a fresh copy always costs one.
A counted download also counts against the contract's per-handler limit (``download_limit_per_handler``, C-16)
for the person who takes it, one row per package and person counted the same conditional way; either limit
refuses the copy, and a refusal rolls back both counts (the caller records only the refusal).

A receipt is recorded by the recipient in the portal (page or API) or, when they confirm it by phone or in
person, by ward staff with ``handover packages acknowledge``: both go through ``acknowledge`` here, so both
require a designated person and keep the first acknowledgement. A receipt is accepted only for data that person
actually retrieved: a counted portal or API download by one of their accounts (the audit trail of allowed
downloads); a delivery a connector made and verified (the pipeline records ``location`` only after
``connector.verify`` read the stored copy back), which reached the contract's endpoint that its designated people
reach; or, for a package written to a DVD, the disc's hand-over recorded to that very person (the media register
names the taker). A package on a disc is recognised by its hash among the disc's files, and then only the
hand-over counts: staging it in the ward's media folder is not a delivery. Anything else (a click on a package
nobody downloaded nor was delivered) is refused with a reason rather than recorded as a receipt.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.delivery.package_state import PackageRefused, Use, require
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action
from ledger.models.audit import AuditEvent
from ledger.models.contracts import Contract, Designation
from ledger.models.packages import HandlerDownloadCount, Package
from ledger.models.parties import Account, Person
from ledger.models.registers import Medium
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
    if resume and await _interrupted(session, package, account_id=account_id, now=now):
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
    handler_note = await _count_for_handler(session, package, person)
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PACKAGE_DOWNLOADED,
            category=Category.PROVIDED,
            content=f"ポータルからのダウンロード（{package.zip_name}、{number}回目／上限{package.download_limit}回"
            f"{handler_note}）",
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


async def _count_for_handler(session: AsyncSession, package: Package, person: Person) -> str:
    """Count this copy against the contract's per-handler limit; the register wording, or PackageRefused."""
    contract = await session.get(Contract, package.contract_id)
    assert contract is not None
    limit = contract.download_limit_per_handler
    if limit is None:
        return ""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(HandlerDownloadCount)
        .values(package_id=package.id, person_id=person.id, count=0)
        .on_conflict_do_nothing(index_elements=["package_id", "person_id"])
    )
    taken = (
        await session.execute(
            update(HandlerDownloadCount)
            .where(
                HandlerDownloadCount.package_id == package.id,
                HandlerDownloadCount.person_id == person.id,
                HandlerDownloadCount.count < limit,
            )
            .values(count=HandlerDownloadCount.count + 1)
            .returning(HandlerDownloadCount.count)
        )
    ).scalar_one_or_none()
    if taken is None:
        raise PackageRefused(
            "download.handler_limit_reached",
            f"このデータについて、あなたがダウンロードできる回数の上限（取扱者ごとに{limit}回）に達しました。"
            "追加が必要な場合は区の担当者に連絡してください。",
        )
    return f"、取扱者ごとに{taken}回目／上限{limit}回"


async def _interrupted(session: AsyncSession, package: Package, *, account_id: int, now: datetime) -> bool:
    """True when ``account_id``'s latest transfer of ``package`` (within the window) ended before all bytes went.

    Takes the package row's write lock first (a no-op update) so that two resumes racing in two processes are
    decided one after the other: the second sees the first's resume row, not the interruption, and is counted.
    """
    await session.execute(update(Package).where(Package.id == package.id).values(download_count=Package.download_count))
    latest = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(
                AuditEvent.action.in_(
                    [Action.PACKAGE_DOWNLOAD, AuditAction.PACKAGE_DOWNLOAD_RESUME, AuditAction.PACKAGE_DOWNLOAD_END]
                ),
                AuditEvent.outcome == "allowed",
                AuditEvent.account_id == account_id,
                AuditEvent.object_id == package.public_id,
                AuditEvent.at > now - RESUME_WINDOW,
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    ).first()
    return (
        latest is not None
        and latest.action == AuditAction.PACKAGE_DOWNLOAD_END
        and latest.detail.get("completed") is False
    )


async def _retrieved_by(session: AsyncSession, package: Package, person: Person) -> bool:
    """True when ``person`` retrieved ``package``: an allowed (counted or resumed) download by one of their
    accounts, a verified connector delivery, or the hand-over to them of the disc that holds it."""
    found = await session.scalar(
        select(AuditEvent.id)
        .join(Account, AuditEvent.account_id == Account.id)
        .where(
            AuditEvent.action == Action.PACKAGE_DOWNLOAD,
            AuditEvent.outcome == "allowed",
            AuditEvent.object_id == package.public_id,
            Account.person_id == person.id,
        )
        .limit(1)
    )
    if found is not None:
        return True
    media = (await session.execute(select(Medium).where(Medium.contract_id == package.contract_id))).scalars()
    on_disc = [m for m in media if any(f.get("sha256") == package.sha256 for f in m.contents)]
    if on_disc:
        # The taker as the media register names them (ledger.registers.handlers.Handler.label).
        taker = f"{person.name}（{person.code}）"
        return any(m.handed_at is not None and m.handed_to == taker for m in on_disc)
    return package.delivered_via is not None and package.location is not None


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
    if not await _retrieved_by(session, package, person):
        raise PackageRefused(
            "receipt.not_retrieved",
            "このデータはまだ受け取られていない（ダウンロード・配信・媒体引渡しの記録がない）ため、受領確認は記録できません。"
            "先にデータを受け取ってください。",
        )
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
