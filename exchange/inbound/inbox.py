"""The ward's inbox: what contractors sent back, who sent it and when, and the staff's decisions on it.

One place answers the portal's inbox page and ``handover inbound …`` alike: the list (a section's, or the uploads
of a contractor's sub-contracts), taking a file (its register line), and releasing or discarding a quarantined
upload. The content is only ever read through ``exchange.inbound.uploads.read_upload`` (sealed in the blob store);
nothing here opens a stored file by its path.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.blobs.store import BlobStore
from exchange.inbound import uploads
from ledger.models.contracts import Contract, Program
from ledger.models.inbound import InboundFile, InboundStatus
from ledger.models.parties import Party, Person
from ledger.models.return_folders import ReturnDelivery
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record

_Row = Select[InboundFile, Contract, Program, Person, Party, ReturnDelivery]
# What a person reads for each state of an upload.
STATUS_LABELS = {
    InboundStatus.RECEIVED: "受領",
    InboundStatus.QUARANTINED: "隔離中",
    InboundStatus.RELEASED: "隔離解除（受領）",
    InboundStatus.DISCARDED: "破棄済み",
}
# States in which the upload counts as accepted: it may go on to the return folder.
ACCEPTED = frozenset({InboundStatus.RECEIVED, InboundStatus.RELEASED})


class InboxRefused(Exception):
    """The upload cannot be taken, released or discarded in its state; the message is for staff (Japanese)."""

    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class InboxItem:
    """One upload with everything the inbox shows: the contract, the sender and their party, its delivery into a
    return folder (if any)."""

    upload: InboundFile
    contract: Contract
    program: Program
    sender: Person
    party: Party
    delivery: ReturnDelivery | None

    @property
    def kind_label(self) -> str:
        return uploads.KINDS.get(self.upload.kind, self.upload.kind)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.upload.status, str(self.upload.status))

    def summary(self) -> dict[str, object]:
        """The facts, for ``handover inbound list --json`` and ``show`` (never the content)."""
        upload = self.upload
        return {
            "id": upload.public_id,
            "contract": self.contract.code,
            "contract_name": self.contract.name,
            "section": self.program.section,
            "sender": f"{self.sender.name}（{self.sender.code}）",
            "party": self.party.name,
            "kind": upload.kind,
            "kind_label": self.kind_label,
            "file_name": upload.file_name,
            "size": upload.size,
            "records": upload.records,
            "sha256": upload.sha256,
            "status": upload.status.value,
            "status_label": self.status_label,
            "reason": upload.reason_ja,
            "uploaded_at": upload.uploaded_at.isoformat(),
            "return_folder": self.delivery.path if self.delivery is not None else None,
        }


def _query() -> _Row:
    return (
        select(InboundFile, Contract, Program, Person, Party, ReturnDelivery)
        .join(Contract, InboundFile.contract_id == Contract.id)
        .join(Program, Contract.program_id == Program.id)
        .join(Person, InboundFile.person_id == Person.id)
        .join(Party, Person.party_id == Party.id)
        .outerjoin(ReturnDelivery, ReturnDelivery.inbound_file_id == InboundFile.id)
        .order_by(InboundFile.uploaded_at.desc(), InboundFile.id.desc())
    )


async def _run(session: AsyncSession, query: _Row) -> list[InboxItem]:
    return [InboxItem(*row) for row in (await session.execute(query)).all()]


async def items(
    session: AsyncSession,
    *,
    section: str | None = None,
    contract_ids: Collection[int] | None = None,
    status: InboundStatus | None = None,
    awaiting_return: bool = False,
    limit: int = 500,
) -> list[InboxItem]:
    """The newest uploads first: of one section (ward staff), of some contracts (a contractor's sub-contracts), or
    all (``section`` and ``contract_ids`` None: the admin and the compliance officer); ``awaiting_return``: only
    accepted uploads not yet delivered into a return folder."""
    query = _query().limit(limit)
    if section is not None:
        query = query.where(Program.section == section)
    if contract_ids is not None:
        query = query.where(InboundFile.contract_id.in_(list(contract_ids)))
    if status is not None:
        query = query.where(InboundFile.status == status)
    if awaiting_return:  # accepted and not yet in a return folder (the duty's round)
        query = query.where(InboundFile.status.in_(list(ACCEPTED)), ReturnDelivery.id.is_(None))
    return await _run(session, query)


async def item(session: AsyncSession, public_id: str) -> InboxItem | None:
    found = await _run(session, _query().where(InboundFile.public_id == public_id))
    return found[0] if found else None


async def sub_contract_ids(session: AsyncSession, parents: Collection[int]) -> list[int]:
    """The sub-contracts of ``parents``: their uploads reach the contractor above them (丙→乙)."""
    rows = await session.execute(select(Contract.id).where(Contract.parent_id.in_(list(parents))))
    return list(rows.scalars())


def check_takeable(upload: InboundFile, *, reviewer: bool) -> None:
    """A discarded upload has no content left; a quarantined one is taken only by the ward's staff (``reviewer``),
    to review it before they release or discard it; an accepted one by anyone allowed to take it."""
    if upload.status is InboundStatus.DISCARDED:
        raise InboxRefused("このファイルは破棄済みのため、取り出せません。")
    if upload.status not in ACCEPTED and not reviewer:
        raise InboxRefused("このファイルは区の確認待ち（隔離中）のため、取り出せません。")


def fetched_entry(found: InboxItem, taker: str, channel: str) -> RegisterEntry:
    """The register line of a returned file taken by ``taker`` (a person as register lines name them)."""
    upload = found.upload
    quantity = {"files": 1, "bytes": upload.size}
    if upload.records is not None:
        quantity["records"] = upload.records
    return RegisterEntry(
        kind=RegisterKind.INBOUND_FETCHED,
        category=Category.RECEIVED,
        content=f"{found.kind_label}の取出し（{upload.file_name}、提出: {found.sender.name}）",
        contract_id=found.contract.public_id,
        handler_from="system",
        handler_to=taker,
        quantity=quantity,
        channel=channel,
        details={"upload": upload.public_id, "sha256": upload.sha256, "status": upload.status.value},
    )


def _quarantined(upload: InboundFile) -> None:
    if upload.status is not InboundStatus.QUARANTINED:
        raise InboxRefused("このファイルは隔離されていないため、解除・破棄の対象ではありません。")


def _reason(reason: str) -> str:
    text = reason.strip()[:500]
    if not text:
        raise InboxRefused("確認した内容（理由）を入力してください。")
    return text


async def release(session: AsyncSession, found: InboxItem, *, by: str, reason: str) -> None:
    """Accept a quarantined upload after review (``by`` names the member of staff): it counts as received from now
    and goes on to the return folder like any accepted upload."""
    upload = found.upload
    _quarantined(upload)
    note = _reason(reason)
    upload.status = InboundStatus.RELEASED
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INBOUND_RELEASED,
            category=Category.RECEIVED,
            content=f"{found.kind_label}の隔離解除（{upload.file_name}）：{note}",
            contract_id=found.contract.public_id,
            handler_from=f"{found.sender.name}（{found.party.name}）",
            handler_to=by,
            quantity={"files": 1, "bytes": upload.size},
            channel="portal",
            details={"upload": upload.public_id, "reason": note, "quarantine_reason": upload.reason_ja or ""},
        ),
    )


async def discard(session: AsyncSession, blobs: BlobStore, found: InboxItem, *, by: str, reason: str) -> None:
    """Discard a quarantined upload: the row stays as the record, its sealed blob (and with it the only copy of
    its data key) is deleted before the caller commits, so the register line never says more than was done."""
    upload = found.upload
    _quarantined(upload)
    note = _reason(reason)
    upload.status = InboundStatus.DISCARDED
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INBOUND_DISCARDED,
            category=Category.ERASED,
            content=f"{found.kind_label}の隔離ファイルを破棄（{upload.file_name}）：{note}",
            contract_id=found.contract.public_id,
            handler_from=by,
            quantity={"files": 1, "bytes": upload.size},
            details={"upload": upload.public_id, "reason": note, "quarantine_reason": upload.reason_ja or ""},
        ),
    )
    stored = uploads.Stored(upload.public_id, upload.blob_key, upload.file_name, upload.size, upload.sha256)
    await uploads.remove(blobs, stored)
