"""Incidents (漏えい等事案, C-18): freeze affected packages at once, track the reports to the PPC, report PDF.

Recording an incident freezes its packages in the same transaction (no download, acknowledgement or password
release on any path: ``exchange.delivery.package_state``; the retention sweep holds frozen packages as
evidence). Access at the endpoints (Box collaborations, for instance) is removed right after that commit, and
what happened is kept for the report.
Deadlines follow the PPC rules: a preliminary report promptly (概ね3〜5日; we count 3 days from discovery) and
a final report within 30 days, or 60 when a wrongful purpose is suspected; an hourly duty reminds staff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.base import Connector, ConnectorError, Grantee
from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
from ledger.documents.duty_pdfs import Document, Section, render
from ledger.models.contracts import Contract, Designation
from ledger.models.duties import NoticeAudience
from ledger.models.oversight import Incident, IncidentPackage
from ledger.models.packages import Package
from ledger.models.parties import Person
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import to_wareki

PRELIMINARY = timedelta(days=3)
FINAL = timedelta(days=30)
FINAL_WRONGFUL = timedelta(days=60)
REMIND_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class IncidentForm:
    title: str
    description: str
    reported_by: str
    discovered_at: datetime
    package_ids: Sequence[str]
    contract_code: str | None = None
    wrongful_purpose: bool = False


async def _grantees(session: AsyncSession, contract_id: int) -> list[Grantee]:
    people = await session.scalars(
        select(Person)
        .join(Designation, Designation.person_id == Person.id)
        .where(Designation.contract_id == contract_id)
    )
    return [Grantee(person.public_id, person.email) for person in people if person.email]


async def open_incident(
    sessions: async_sessionmaker[AsyncSession], connectors: Mapping[str, Connector], form: IncidentForm, now: datetime
) -> Incident:
    async with sessions() as session, session.begin():
        contract = None
        if form.contract_code is not None:
            contract = await session.scalar(select(Contract).where(Contract.code == form.contract_code))
            if contract is None:
                raise ValueError(f"契約「{form.contract_code}」が見つかりません。")
        packages = (await session.scalars(select(Package).where(Package.public_id.in_(form.package_ids)))).all()
        if len(packages) != len(set(form.package_ids)):
            raise ValueError("見つからないパッケージがあります。")
        incident = Incident(
            title=form.title,
            description=form.description,
            contract_id=contract.id if contract else None,
            reported_by=form.reported_by,
            discovered_at=form.discovered_at,
            recorded_at=now,
            wrongful_purpose=form.wrongful_purpose,
            preliminary_due_at=form.discovered_at + PRELIMINARY,
            final_due_at=form.discovered_at + (FINAL_WRONGFUL if form.wrongful_purpose else FINAL),
        )
        session.add(incident)
        await session.flush()
        for package in packages:
            package.frozen_at = package.frozen_at or now
            session.add(
                IncidentPackage(incident_id=incident.id, package_id=package.id, frozen_at=now, access_removed="")
            )
        await record(
            session,
            RegisterEntry(
                kind=RegisterKind.INCIDENT_RECORDED,
                category=Category.ADMIN,
                content=f"事故を記録し、関係データ{len(packages)}件を凍結（{form.title}）",
                contract_id=contract.public_id if contract else None,
                handler_from=form.reported_by,
                quantity={"packages": len(packages)},
                details={"incident_id": incident.public_id, "packages": [p.public_id for p in packages]},
            ),
        )
    await _remove_access(sessions, connectors, incident.id)
    return incident


async def _remove_access(
    sessions: async_sessionmaker[AsyncSession], connectors: Mapping[str, Connector], incident_id: int
) -> None:
    async with sessions() as session, session.begin():
        rows = (
            await session.scalars(
                select(IncidentPackage)
                .where(IncidentPackage.incident_id == incident_id)
                .options(selectinload(IncidentPackage.package))
            )
        ).all()
        for row in rows:
            location = row.package.location
            connector = connectors.get(location["connector"]) if location else None
            if location is None or connector is None:
                row.access_removed = "接続先上の複製なし、または接続先未設定"
                continue
            try:
                await connector.revoke(location["folder"], await _grantees(session, row.package.contract_id))
            except ConnectorError as exc:
                row.access_removed = f"アクセス権の削除に失敗：{exc.reason_ja}"
            else:
                row.access_removed = f"{connector.name}（{connector.kind}）のアクセス権を削除"


async def record_report(session: AsyncSession, incident: Incident, which: str, at: datetime) -> None:
    """Record that the preliminary or final report went to the PPC."""
    if which == "preliminary":
        incident.preliminary_reported_at, kind = at, RegisterKind.INCIDENT_PRELIMINARY_REPORTED
    elif which == "final":
        incident.final_reported_at, kind = at, RegisterKind.INCIDENT_FINAL_REPORTED
    else:
        raise ValueError("which is 'preliminary' or 'final'")
    await record(
        session,
        RegisterEntry(
            kind=kind,
            category=Category.ADMIN,
            content=f"個人情報保護委員会へ{'速報' if which == 'preliminary' else '確報'}を提出（{incident.title}）",
            handler_from="ward",
            details={"incident_id": incident.public_id},
        ),
    )


async def remind(sessions: async_sessionmaker[AsyncSession], now: datetime, *, mailer: Mailer | None) -> dict[str, Any]:
    notices: list[NewNotice] = []
    overdue: list[str] = []
    async with sessions() as session, session.begin():
        incidents = (await session.scalars(select(Incident).options(selectinload(Incident.contract)))).all()
        for incident in incidents:
            for which, kind, label, due, done in (
                (
                    "preliminary",
                    NoticeKind.INCIDENT_PRELIMINARY,
                    "速報",
                    incident.preliminary_due_at,
                    incident.preliminary_reported_at,
                ),
                ("final", NoticeKind.INCIDENT_FINAL, "確報", incident.final_due_at, incident.final_reported_at),
            ):
                if done is not None or now < due - REMIND_BEFORE:
                    continue
                late = now >= due
                if late:
                    overdue.append(f"{incident.public_id}:{which}")
                notice = await notify(
                    session,
                    kind=kind,
                    subject_id=incident.public_id,
                    occasion="overdue" if late else "before-due",
                    audience=NoticeAudience.WARD,
                    contract=incident.contract,
                    subject=f"【{'期限超過' if late else '期限間近'}】事故の{label}（個人情報保護委員会）",
                    message_ja=f"事故「{incident.title}」の{label}の期限は{to_wareki(due)}です。提出し、記録してください。",
                )
                notices += [notice] if notice else []
    sent = await send_emails(sessions, notices, mailer)
    return {"overdue": overdue, "notices": len(notices), "emailed": sent}


async def incident_pdf(session: AsyncSession, incident: Incident) -> bytes:
    rows = (
        await session.execute(
            select(IncidentPackage, Package, Contract)
            .join(Package, IncidentPackage.package_id == Package.id)
            .join(Contract, Package.contract_id == Contract.id)
            .where(IncidentPackage.incident_id == incident.id)
        )
    ).all()

    def when(moment: datetime | None) -> str:
        return to_wareki(moment) if moment else "未提出"

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
                    ("発覚日時", to_wareki(incident.discovered_at)),
                    ("不正の目的のおそれ", "あり" if incident.wrongful_purpose else "なし"),
                ),
            ),
            Section(
                "2．個人情報保護委員会への報告",
                pairs=(
                    ("速報の期限", to_wareki(incident.preliminary_due_at)),
                    ("速報の提出", when(incident.preliminary_reported_at)),
                    ("確報の期限", to_wareki(incident.final_due_at)),
                    ("確報の提出", when(incident.final_reported_at)),
                ),
            ),
            Section(
                "3．凍結したデータ",
                header=("パッケージ", "契約", "凍結日時", "接続先での措置"),
                rows=[
                    [package.zip_name, contract.code, to_wareki(row.frozen_at), row.access_removed]
                    for row, package, contract in rows
                ],
            ),
        ),
    )
    return await asyncio.to_thread(render, document)
