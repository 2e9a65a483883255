"""What follows an incident's opening (C-18): the ward's instructions and the contractor's answers, unfreezing a
package with a reason, closing, the counts of affected records and people, and the report PDF.

Every step is a register line naming the person; the PDF states only what was recorded (the endpoint outcome
sentences are written by ``incidents._take_out_of_reach`` as the action happened).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.local import WITHDRAWN
from ledger.documents.duty_pdfs import Document, Section, render
from ledger.models.contracts import Contract
from ledger.models.oversight import Incident, IncidentMessage, IncidentPackage
from ledger.models.packages import Package
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki

MESSAGE_KINDS = {"instruction": "区からの指示", "answer": "受託者からの報告"}
# Quantities the packing manifest may name for people (plugins' ``describe_package``), most specific first.
PEOPLE_KINDS = (("people", "人"), ("households", "世帯"))


@dataclass(frozen=True)
class Affected:
    """Counts from the frozen packages' manifests: records always; people where the manifest names them."""

    records: int
    people: int | None
    people_unit: str
    packages: int

    def describe(self) -> str:
        people = f"{self.people}{self.people_unit}" if self.people is not None else "マニフェストに記載なし"
        return f"データ{self.packages}件、レコード{self.records}件、対象者 {people}"


def affected(packages: Sequence[Package]) -> Affected:
    records = sum(int(f.get("records") or 0) for p in packages for f in p.content.get("files", []))
    for kind, unit in PEOPLE_KINDS:
        counts = [p.content.get("quantities", {}).get(kind) for p in packages]
        if packages and all(isinstance(count, int) for count in counts):
            return Affected(records, sum(int(c) for c in counts if c is not None), unit, len(packages))
    return Affected(records, None, "", len(packages))


async def _contract_public_id(session: AsyncSession, incident: Incident) -> str | None:
    contract = await session.get(Contract, incident.contract_id) if incident.contract_id is not None else None
    return contract.public_id if contract else None


def _open(incident: Incident) -> None:
    if incident.closed_at is not None:
        raise ValueError("この事故は終結しています。")


async def add_message(
    session: AsyncSession,
    incident: Incident,
    kind: str,
    body: str,
    *,
    author: str,
    party_id: int | None,
    now: datetime,
) -> IncidentMessage:
    """The ward's instruction (``instruction``) or the contractor's answer (``answer``)."""
    if kind not in MESSAGE_KINDS:
        raise ValueError("指示（instruction）または報告（answer）を選んでください。")
    body = body.strip()
    if not body:
        raise ValueError("内容を入力してください。")
    _open(incident)
    message = IncidentMessage(incident_id=incident.id, kind=kind, body=body, author=author, party_id=party_id, at=now)
    session.add(message)
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INCIDENT_INSTRUCTION if kind == "instruction" else RegisterKind.INCIDENT_ANSWER,
            category=Category.ADMIN,
            content=f"事故「{incident.title}」について{MESSAGE_KINDS[kind]}：{body}",
            contract_id=await _contract_public_id(session, incident),
            handler_from=author,
            details={"incident_id": incident.public_id},
        ),
    )
    await session.flush()
    return message


async def unfreeze(
    session: AsyncSession, incident: Incident, package_public_id: str, *, by: str, reason: str, now: datetime
) -> IncidentPackage:
    """Release one package from this incident; it stays frozen while another open incident holds it."""
    reason = reason.strip()
    if not reason:
        raise ValueError("凍結を解除する理由を入力してください。")
    row = await session.scalar(
        select(IncidentPackage)
        .join(Package, IncidentPackage.package_id == Package.id)
        .where(IncidentPackage.incident_id == incident.id, Package.public_id == package_public_id)
    )
    if row is None:
        raise ValueError("この事故で凍結したデータではありません。")
    if row.unfrozen_at is not None:
        raise ValueError("このデータの凍結は解除済みです。")
    package = await session.get(Package, row.package_id)
    assert package is not None
    row.unfrozen_at, row.unfrozen_by, row.unfreeze_reason = now, by, reason
    others = await session.scalar(
        select(IncidentPackage.id).where(
            IncidentPackage.package_id == package.id,
            IncidentPackage.id != row.id,
            IncidentPackage.unfrozen_at.is_(None),
        )
    )
    if others is None:
        package.frozen_at = None
    still = "（他の事故で凍結中のため、引き続き利用できません）" if others is not None else ""
    if package.location and str(package.location.get("folder", "")).startswith(f"{WITHDRAWN}/"):
        # Unfreezing releases the hub's own copy; the file withdrawn from the outbox stays where the hub put it.
        still += f"（出力先から取り下げたファイルは保管場所 {package.location['folder']} に残したままです）"
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INCIDENT_UNFROZEN,
            category=Category.ADMIN,
            content=f"事故「{incident.title}」で凍結したデータ（{package.zip_name}）の凍結を解除：{reason}{still}",
            contract_id=await _contract_public_id(session, incident),
            package_id=package.public_id,
            handler_from=by,
            details={"incident_id": incident.public_id, "reason": reason, "still_frozen": others is not None},
        ),
    )
    return row


async def close(session: AsyncSession, incident: Incident, *, by: str, note: str, now: datetime) -> None:
    """Close the incident; without both PPC filings recorded, the note must say why none is owed."""
    note = note.strip()
    _open(incident)
    if not note:
        raise ValueError("終結の所見を入力してください。")
    incident.closed_at, incident.closed_by, incident.closing_note = now, by, note
    filed = incident.preliminary_reported_at is not None and incident.final_reported_at is not None
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.INCIDENT_CLOSED,
            category=Category.ADMIN,
            content=f"事故「{incident.title}」を終結：{note}" + ("" if filed else "（個人情報保護委員会への報告未了）"),
            contract_id=await _contract_public_id(session, incident),
            handler_from=by,
            details={"incident_id": incident.public_id, "reports_filed": filed},
        ),
    )


def _when(moment: datetime | None) -> str:
    return to_wareki(moment) if moment else "未提出"


async def incident_pdf(session: AsyncSession, incident: Incident) -> bytes:
    rows = (
        await session.execute(
            select(IncidentPackage, Package, Contract)
            .join(Package, IncidentPackage.package_id == Package.id)
            .join(Contract, Package.contract_id == Contract.id)
            .where(IncidentPackage.incident_id == incident.id)
            .order_by(IncidentPackage.id)
        )
    ).all()
    messages = (
        await session.scalars(
            select(IncidentMessage).where(IncidentMessage.incident_id == incident.id).order_by(IncidentMessage.id)
        )
    ).all()
    counts = affected([package for _row, package, _contract in rows])

    def unfrozen(row: IncidentPackage) -> str:
        if row.unfrozen_at is None:
            return "凍結中"
        return f"{to_wareki(row.unfrozen_at)} {row.unfrozen_by} 解除（{row.unfreeze_reason}）"

    def filed(at: datetime | None, by: str | None, reference: str | None) -> str:
        return _when(at) if at is None else f"{to_wareki(at)}（{by}、{reference}）"

    document = Document(
        title="個人情報の漏えい等事案報告書",
        date_line=to_wareki(incident.recorded_at),
        issuer="個人情報受渡しハブ（handover）",
        sections=(
            Section(
                "1．事案の概要",
                pairs=(
                    ("件名", incident.title),
                    ("内容", incident.description),
                    ("報告者", incident.reported_by),
                    ("報告元", "受託者（ポータルから報告）" if incident.reported_by_party_id else "区"),
                    ("発覚日時", to_wareki(incident.discovered_at)),
                    ("不正の目的のおそれ", "あり" if incident.wrongful_purpose else "なし"),
                    ("影響範囲（マニフェストによる）", counts.describe()),
                    (
                        "状況",
                        f"終結 {to_wareki(incident.closed_at)}（{incident.closed_by}）：{incident.closing_note}"
                        if incident.closed_at
                        else "対応中",
                    ),
                ),
            ),
            Section(
                "2．個人情報保護委員会への報告",
                pairs=(
                    ("速報の期限", to_wareki(incident.preliminary_due_at)),
                    (
                        "速報の提出",
                        filed(
                            incident.preliminary_reported_at,
                            incident.preliminary_reported_by,
                            incident.preliminary_reference,
                        ),
                    ),
                    ("確報の期限", to_wareki(incident.final_due_at)),
                    (
                        "確報の提出",
                        filed(incident.final_reported_at, incident.final_reported_by, incident.final_reference),
                    ),
                ),
            ),
            Section(
                "3．凍結したデータと接続先での措置",
                header=("パッケージ", "契約", "凍結日時", "接続先での措置", "凍結の解除"),
                rows=[
                    [package.zip_name, contract.code, to_wareki(row.frozen_at), row.access_removed, unfrozen(row)]
                    for row, package, contract in rows
                ],
            ),
            Section(
                "4．指示と報告の経過",
                header=("日時", "区分", "記録者", "内容"),
                rows=[[to_wareki(m.at), MESSAGE_KINDS[m.kind], m.author, m.body] for m in messages],
            ),
        ),
    )
    return await asyncio.to_thread(render, document)
