"""What ward staff decide about a quarantined drop: release it (re-queue after a fix), discard it, or take out the
original. Shared by the staff portal (``exchange.web.staff_quarantine``) and ``handover quarantine``.

Each decision is a register line naming the member of staff; who may decide is the caller's check
(``authorisation.decide_quarantine`` on the portal, ``handlers.section_staff`` on the command line): the section
owning the route. A release makes a new intake of the same route whose content is the sealed drop: the normal
pipeline runs every check again, so a drop whose cause was fixed (a contract extended, an item approved) goes
through, and one whose cause remains comes back to quarantine with the new reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exchange.blobs.store import BlobStore
from exchange.intake.sealed_quarantine import quarantine_aad
from exchange.keys.sealed_files import open_sealed_blob
from exchange.keys.sealing import Keyring
from ledger.models.base import utcnow
from ledger.models.contracts import Program, Route, RouteTarget
from ledger.models.packages import IntakeFile, IntakeStatus
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import format_jst


class QuarantineError(Exception):
    """The decision cannot be taken; the message is Japanese, for the member of staff."""

    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja


@dataclass(frozen=True)
class HeldDrop:
    intake: IntakeFile
    route: Route
    section: str

    @property
    def contract_ids(self) -> list[str]:
        return [t.contract.public_id for t in self.route.targets]


def _query(*, decided: bool = False) -> Select[IntakeFile, Route, str]:
    """Quarantined intakes with their route and section; only those waiting for a decision unless ``decided``."""
    query = (
        select(IntakeFile, Route, Program.section)
        .join(Route, IntakeFile.route_id == Route.id)
        .join(Program, Route.program_id == Program.id)
        .where(IntakeFile.status == IntakeStatus.QUARANTINED)
        .options(selectinload(Route.targets).selectinload(RouteTarget.contract))
    )
    return query if decided else query.where(IntakeFile.resolution.is_(None))


async def held_drops(session: AsyncSession, section: str | None, limit: int = 200) -> list[HeldDrop]:
    """Quarantined drops no one has decided about yet, newest first; ``section`` None: every section's."""
    query = _query().order_by(IntakeFile.created_at.desc(), IntakeFile.id.desc()).limit(limit)
    if section is not None:
        query = query.where(Program.section == section)
    return [HeldDrop(i, r, s) for i, r, s in (await session.execute(query)).all()]


async def find_held(session: AsyncSession, public_id: str, *, decided: bool = False) -> HeldDrop | None:
    """The quarantined drop waiting for a decision (or, ``decided``, also one already decided about)."""
    row = (await session.execute(_query(decided=decided).where(IntakeFile.public_id == public_id))).first()
    return HeldDrop(row[0], row[1], row[2]) if row is not None else None


def _sealed(drop: HeldDrop) -> str:
    if drop.intake.sealed_key is None:
        raise QuarantineError(
            "このファイルは暗号化して保管されていないため、画面からは操作できません（受渡しフォルダまたは"
            "隔離フォルダに残っています）。結果ファイルの案内に従ってください。"
        )
    return drop.intake.sealed_key


def _entry(
    drop: HeldDrop, kind: RegisterKind, category: Category, content: str, by: str, **details: object
) -> RegisterEntry:
    contracts = drop.contract_ids
    return RegisterEntry(
        kind=kind,
        category=category,
        content=content,
        contract_id=contracts[0] if len(contracts) == 1 else None,
        handler_from=by,
        quantity={"files": 1, "bytes": drop.intake.size},
        details={"intake_id": drop.intake.public_id, "route": drop.route.code, "contracts": contracts, **details},
    )


def _decided(drop: HeldDrop, resolution: str, by: str) -> None:
    drop.intake.resolution = resolution
    drop.intake.resolved_at = utcnow()
    drop.intake.resolved_by = by


async def release(session: AsyncSession, drop: HeldDrop, by: str) -> IntakeFile:
    """Re-queue the sealed drop as a new intake of its route; the running hub's workers process it."""
    _sealed(drop)
    origin = drop.intake
    queued = IntakeFile(
        route_id=origin.route_id,
        source_path=origin.source_path,
        file_name=origin.file_name,
        size=origin.size,
        released_from_id=origin.id,
    )
    try:
        async with session.begin_nested():
            session.add(queued)
            await session.flush()
    except IntegrityError:
        raise QuarantineError(
            "同じ名前のファイルが受渡しフォルダで処理中のため、再受付できません。処理が終わってから再度操作してください。"
        ) from None
    _decided(drop, "released", by)
    await record(
        session,
        _entry(
            drop,
            RegisterKind.INTAKE_RELEASED,
            Category.ADMIN,
            f"隔離された {origin.file_name} を再受付しました（元の理由: {origin.reason_ja or '—'}）",
            by,
            released_as=queued.public_id,
            reason=origin.reason_ja,
        ),
    )
    return queued


async def discard(session: AsyncSession, blobs: BlobStore, drop: HeldDrop, by: str, reason: str) -> None:
    """Delete the sealed drop (crypto-erase) and record it. The row is marked first and the blob erased before
    the caller commits: a failed commit leaves a row that can be discarded again (an absent blob is fine)."""
    sealed = _sealed(drop)
    _decided(drop, "discarded", by)
    drop.intake.sealed_key = None
    await record(
        session,
        _entry(
            drop,
            RegisterKind.INTAKE_DISCARDED,
            Category.ERASED,
            f"隔離された {drop.intake.file_name} を破棄しました（暗号鍵ごと消去）：{reason}",
            by,
            reason=reason,
        ),
    )
    await session.flush()
    await blobs.delete(sealed)


async def record_download(session: AsyncSession, blobs: BlobStore, drop: HeldDrop, by: str) -> str:
    """Record that ``by`` takes out the original bytes; returns the sealed blob's key to read (``original``)."""
    sealed = _sealed(drop)
    if await blobs.size(sealed) is None:
        raise QuarantineError("保管していた隔離ファイルが見つかりません。情報システム担当に連絡してください。")
    await record(
        session,
        _entry(
            drop,
            RegisterKind.INTAKE_QUARANTINE_DOWNLOADED,
            Category.ADMIN,
            f"隔離された {drop.intake.file_name} の原本を取り出しました",
            by,
        ),
    )
    return sealed


def original(blobs: BlobStore, sealed: str, keyring: Keyring, drop: HeldDrop) -> AsyncIterator[bytes]:
    """The original bytes of the sealed drop, chunk by chunk (``UnsealError`` if tampered with)."""
    return open_sealed_blob(blobs, sealed, keyring, quarantine_aad(drop.intake.public_id))


def summary(drops: Sequence[HeldDrop]) -> list[dict[str, object]]:
    """The drops as the command line prints them (``--json``), times in Japan time: no path inside the hub, no
    content."""
    return [
        {
            "id": d.intake.public_id,
            "file": d.intake.file_name,
            "route": d.route.code,
            "section": d.section,
            "size": d.intake.size,
            "received_at": format_jst(d.intake.created_at),
            "reason": d.intake.reason_ja,
            "sealed": d.intake.sealed_key is not None,
            "resolution": d.intake.resolution,
            "resolved_at": format_jst(d.intake.resolved_at) if d.intake.resolved_at else None,
            "resolved_by": d.intake.resolved_by,
        }
        for d in drops
    ]
