"""Retention (C-04): when each package must go, and the sweep that erases every copy the hub controls.

A package's deadline comes from business events of its contract, never from file times: ``N`` days after its
receipt was acknowledged, and never later than the end of the contract's last day (JST) plus its grace days; a
package never acknowledged goes at that cap. Packages frozen by an incident are held as evidence and skipped.

The sweep is resumable. Due packages are enrolled in the one open certificate; each copy (the blob in the hub's
store, the delivered copy at its connector, and any copy a delivery whose answer was lost may have left
elsewhere) is deleted and looked up again, and its confirmation is committed at once, so a sweep killed half way resumes
with what is left. Only when every copy of a package is confirmed gone is the package crypto-erased (its sealed
password, and with it the data key, is destroyed), marked deleted and written in the register (消去); only when
every enrolled package is erased is the certificate issued, exactly once (``UPDATE … WHERE status = 'open'``).
A failure (e.g. Box answering 500) is recorded and retried next sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.base import Connector, ConnectorError, StoredObject
from exchange.blobs.store import BlobError, BlobStore
from exchange.retention import hub_certificate_files as certificate_files
from ledger.canonical import format_timestamp
from ledger.hub_certificate import ErasedPackage, build_document, certificate_number, sign_document
from ledger.models.contracts import Contract
from ledger.models.packages import Package, PackageStatus
from ledger.models.retention import HubCertificateStatus, HubDeletionCertificate, HubDeletionItem
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.tlog.checkpoint import SigningKey
from ledger.wareki import jst_midnight

log = logging.getLogger(__name__)


def retention_deadline(package: Package, contract: Contract) -> datetime:
    last_day_end = jst_midnight(contract.ends_on + timedelta(days=1))
    cap = (last_day_end + timedelta(days=contract.retention_grace_days)).astimezone(UTC)
    if package.acknowledged_at is None:
        return cap
    return min(package.acknowledged_at + timedelta(days=contract.retention_days_after_receipt), cap)


@dataclass
class SweepResult:
    certificate_id: str | None = None
    enrolled: int = 0
    erased: int = 0
    failed: int = 0
    issued: str | None = None
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "certificate": self.certificate_id,
            "enrolled": self.enrolled,
            "erased": self.erased,
            "failed": self.failed,
            "issued": self.issued,
            "errors": self.errors[:20],
        }


def _plan_copies(package: Package, store: BlobStore) -> list[dict[str, Any]]:
    copies: list[dict[str, Any]] = [
        {
            "target": "store",
            "connector": None,
            # The blob's key in the hub's store (the same on every host), and which kind of store holds it.
            "location": package.blob_key,
            "store": store.kind,
            "method": "logical-delete",
            "method_ja": "論理削除（ハブの保管領域から削除）",
            "confirmed_at": None,
            "error": None,
        }
    ]
    if package.location:
        copies.append(
            {
                "target": "endpoint",
                "connector": package.location["connector"],
                "folder": package.location["folder"],
                "location": package.location["location"],
                "method": "delete-and-purge",
                "method_ja": "削除（ごみ箱等からの完全削除を含む）",
                "confirmed_at": None,
                "error": None,
            }
        )
    # Copies an attempt whose answer was lost may have left (``location`` null: looked up by name at deletion).
    for other in package.other_copies or []:
        copies.append(
            {
                "target": "endpoint",
                "connector": other["connector"],
                "folder": other["folder"],
                "location": other["location"],
                "method": "delete-and-purge",
                "method_ja": "削除（応答が失われた配送の複製。ごみ箱等からの完全削除を含む）",
                "confirmed_at": None,
                "error": None,
            }
        )
    return copies


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Mapping[str, Connector],
        *,
        blobs: BlobStore,
        signing_key: SigningKey,
    ) -> None:
        self.sessions = sessions
        self.connectors = connectors
        self.blobs = blobs
        self.signing_key = signing_key

    async def sweep(self, now: datetime) -> SweepResult:
        result = SweepResult()
        certificate_id = await self._enrol(now, result)
        if certificate_id is not None:
            async with self.sessions() as session:
                pending = (
                    await session.scalars(
                        select(HubDeletionItem.id).where(
                            HubDeletionItem.certificate_id == certificate_id, HubDeletionItem.erased_at.is_(None)
                        )
                    )
                ).all()
            for item_id in pending:
                await self._erase(item_id, now, result)
            await self._issue(certificate_id, now, result)
        await certificate_files.export_missing(self.sessions, self.blobs)
        return result

    async def _enrol(self, now: datetime, result: SweepResult) -> int | None:
        """Put every due package into the open certificate (opened here if needed); its id, or None."""
        async with self.sessions() as session, session.begin():
            certificate = await session.scalar(
                select(HubDeletionCertificate)
                .where(HubDeletionCertificate.status == HubCertificateStatus.OPEN)
                .order_by(HubDeletionCertificate.id)
                .limit(1)
            )
            enrolled = select(HubDeletionItem.package_id)
            candidates = (
                await session.execute(
                    select(Package, Contract)
                    .join(Contract, Package.contract_id == Contract.id)
                    .where(
                        Package.status != PackageStatus.DELETED,
                        Package.frozen_at.is_(None),
                        Package.id.not_in(enrolled),
                    )
                    .order_by(Package.id)
                )
            ).all()
            due = [(p, retention_deadline(p, c)) for p, c in candidates if retention_deadline(p, c) <= now]
            if certificate is None and not due:
                return None
            if certificate is None:
                certificate = HubDeletionCertificate(opened_at=now)
                session.add(certificate)
                await session.flush()
            for package, deadline in due:
                session.add(
                    HubDeletionItem(
                        certificate_id=certificate.id,
                        package_id=package.id,
                        due_at=deadline,
                        copies=_plan_copies(package, self.blobs),
                    )
                )
            result.certificate_id = certificate.public_id
            result.enrolled = len(due)
            return certificate.id

    async def _confirm_copy(self, copy: dict[str, Any], package: Package) -> str:
        """Delete one copy and look it up again; returns how its absence was verified."""
        zip_name = package.zip_name
        if copy["target"] == "store":
            # A copy planned before packages had keys names a path on the packing host: the key is what is deleted.
            copy["location"], copy["store"] = package.blob_key, self.blobs.kind
            await self.blobs.delete(copy["location"])  # verified: it raises unless the key is gone afterwards
            return f"{self.blobs.kind} blob store: no blob under the key after deletion"
        connector = self.connectors.get(copy["connector"])
        if connector is None:
            raise ConnectorError(f"接続先「{copy['connector']}」が設定されていません。", retryable=False)
        if copy["location"] is None:
            found = await connector.locate(copy["folder"], zip_name)
            if found is None:
                return f"{connector.kind} connector: no object under the package's name"
            copy["location"] = found.location
        obj = StoredObject(copy["connector"], copy["folder"], zip_name, copy["location"], 0)
        await connector.delete(obj)
        if await connector.exists(obj):
            raise ConnectorError(f"接続先「{copy['connector']}」でまだ参照できます。", retryable=True)
        return f"{connector.kind} connector: object not found after deletion"

    async def _erase(self, item_id: int, now: datetime, result: SweepResult) -> None:
        async with self.sessions() as session:
            item = await session.get(HubDeletionItem, item_id, options=[selectinload(HubDeletionItem.package)])
            assert item is not None
            package = item.package
            copies = [dict(copy) for copy in item.copies]
        errors: list[str] = []
        for copy in copies:
            if copy["confirmed_at"] is not None:
                continue
            try:
                copy["verification"] = await self._confirm_copy(copy, package)
            except ConnectorError as exc:
                copy["error"] = exc.reason_ja
                errors.append(f"{package.public_id} {copy['connector']}: {exc.reason_ja}")
                continue
            except BlobError as exc:
                copy["error"] = str(exc)
                errors.append(f"{package.public_id} store: {exc}")
                continue
            copy["confirmed_at"] = format_timestamp(now)
            copy["error"] = None
            async with self.sessions() as session, session.begin():
                # Committed per copy, so a sweep killed after this point does not need to redo it.
                await session.execute(
                    update(HubDeletionItem).where(HubDeletionItem.id == item_id).values(copies=copies)
                )
        async with self.sessions() as session, session.begin():
            item = await session.get(HubDeletionItem, item_id, options=[selectinload(HubDeletionItem.package)])
            assert item is not None
            item.copies = copies
            item.attempts += 1
            if errors:
                item.last_error = "; ".join(errors)
                result.failed += 1
                result.errors += errors
                log.warning("retention: package %s not yet erased: %s", package.public_id, item.last_error)
                return
            await self._crypto_erase(session, item, now)
            result.erased += 1

    async def _crypto_erase(self, session: AsyncSession, item: HubDeletionItem, now: datetime) -> None:
        package = item.package
        contract = await session.get(Contract, package.contract_id)
        assert contract is not None
        package.sealed_password = None
        package.status = PackageStatus.DELETED
        package.deleted_at = now
        item.erased_at = now
        item.last_error = None
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.PACKAGE_ERASED,
                category=Category.ERASED,
                content=f"{package.zip_name}（保存期限到来によりハブ上の全複製を消去・暗号消去）",
                contract_id=contract.public_id,
                package_id=package.public_id,
                handler_from="system",
                quantity={"files": len(package.content.get("files", [])) if package.content else 0},
                details={
                    "due_at": format_timestamp(item.due_at),
                    "copies": [
                        {"target": c["target"], "connector": c["connector"], "method": c["method"]} for c in item.copies
                    ],
                    "crypto_erase": True,
                },
            ),
        )

    async def _issue(self, certificate_id: int, now: datetime, result: SweepResult) -> None:
        async with self.sessions() as session, session.begin():
            remaining = await session.scalar(
                select(func.count())
                .select_from(HubDeletionItem)
                .where(HubDeletionItem.certificate_id == certificate_id, HubDeletionItem.erased_at.is_(None))
            )
            if remaining:
                return
            certificate = await session.get(HubDeletionCertificate, certificate_id)
            assert certificate is not None
            rows = (
                await session.execute(
                    select(HubDeletionItem, Package, Contract)
                    .join(Package, HubDeletionItem.package_id == Package.id)
                    .join(Contract, Package.contract_id == Contract.id)
                    .where(HubDeletionItem.certificate_id == certificate_id)
                    .order_by(HubDeletionItem.id)
                )
            ).all()
            number = certificate_number(certificate, now)
            erased = [ErasedPackage(item, package, contract) for item, package, contract in rows]
            signed = sign_document(
                build_document(certificate, number, erased, now, self.signing_key.verifier), self.signing_key
            )
            claimed = await session.execute(
                update(HubDeletionCertificate)
                .where(
                    HubDeletionCertificate.id == certificate_id,
                    HubDeletionCertificate.status == HubCertificateStatus.OPEN,
                )
                .values(
                    status=HubCertificateStatus.ISSUED,
                    issued_at=now,
                    number=number,
                    document=signed.text,
                    signature=signed.signature,
                    vkey=self.signing_key.verifier.vkey,
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return
            await record(
                session,
                RegisterEntry(
                    kind=RegisterKind.CERTIFICATE_HUB_ISSUED,
                    category=Category.ERASED,
                    content=f"電子データ消去証明書（ハブ）{number} を発行（{len(erased)}件）",
                    handler_from="system",
                    quantity={"packages": len(erased)},
                    details={"certificate_id": certificate.public_id, "number": number},
                ),
            )
            result.issued = number
