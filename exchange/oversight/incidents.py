"""Incidents (漏えい等事案, C-18): freeze affected packages at once, track the reports to the PPC, report PDF.

Recording an incident (ward staff, or a contractor from the portal) freezes its packages in the same transaction
(no download, acknowledgement or password release on any path: ``exchange.delivery.package_state``; the retention
sweep holds frozen packages as evidence). Right after that commit the packages are taken out of reach at their
endpoints: Box collaborations are removed, a local outbox's file is moved into its owner-only ``.revoked`` folder;
where the hub cannot act (SFTP, media) the report says the file is still there. Each outcome is kept, word for
word, for the report PDF and the register. Closing, unfreezing and the messages live in ``incident_records``.
Deadlines follow the PPC rules: a preliminary report promptly (概ね3〜5日; we count 3 days from discovery) and
a final report within 30 days, or 60 when a wrongful purpose is suspected; an hourly duty reminds staff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from connectors.base import Connector, ConnectorError, Grantee
from connectors.local import LocalConnector
from exchange.duties.mail import Mailer
from exchange.duties.notices import NewNotice, NoticeKind, notify, send_emails
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
REPORT_LABELS = {"preliminary": "速報", "final": "確報"}


@dataclass(frozen=True)
class IncidentForm:
    title: str
    description: str
    reported_by: str
    discovered_at: datetime
    package_ids: Sequence[str]
    contract_code: str | None = None
    wrongful_purpose: bool = False
    reporter_party_id: int | None = None  # a contractor reporting from the portal


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
        incident = await freeze(session, form, now)
    await remove_access(sessions, connectors, incident.id)
    return incident


async def freeze(session: AsyncSession, form: IncidentForm, now: datetime) -> Incident:
    """Record the incident and freeze its packages in the caller's transaction; after the commit, call
    ``remove_access`` (the endpoints must not be touched while the freeze could still roll back)."""
    if not form.title.strip() or not form.description.strip() or not form.reported_by.strip():
        raise ValueError("件名・内容・報告者を入力してください。")
    if form.discovered_at > now:
        raise ValueError("発覚日時に未来の日時は入力できません。")
    contract = None
    if form.contract_code is not None:
        contract = await session.scalar(select(Contract).where(Contract.code == form.contract_code))
        if contract is None:
            raise ValueError(f"契約「{form.contract_code}」が見つかりません。")
    packages = (await session.scalars(select(Package).where(Package.public_id.in_(form.package_ids)))).all()
    if len(packages) != len(set(form.package_ids)):
        raise ValueError("見つからないパッケージがあります。")
    if contract is not None and any(p.contract_id != contract.id for p in packages):
        raise ValueError("この契約で提供したデータ以外は選べません。")
    incident = Incident(
        title=form.title,
        description=form.description,
        contract_id=contract.id if contract else None,
        reported_by=form.reported_by,
        discovered_at=form.discovered_at,
        recorded_at=now,
        wrongful_purpose=form.wrongful_purpose,
        reported_by_party_id=form.reporter_party_id,
        preliminary_due_at=form.discovered_at + PRELIMINARY,
        final_due_at=form.discovered_at + (FINAL_WRONGFUL if form.wrongful_purpose else FINAL),
    )
    session.add(incident)
    await session.flush()
    for package in packages:
        package.frozen_at = package.frozen_at or now
        session.add(IncidentPackage(incident_id=incident.id, package_id=package.id, frozen_at=now, access_removed=""))
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
    if form.reporter_party_id is not None:
        # A contractor's report must reach the ward at once: it shows among the ward's notices on the staff page.
        await notify(
            session,
            kind=NoticeKind.INCIDENT_REPORTED,
            subject_id=incident.public_id,
            occasion="reported",
            audience=NoticeAudience.WARD,
            contract=contract,
            subject=f"【至急】受託者から事故の報告（{form.title}）",
            message_ja=(
                f"{form.reported_by}から事故「{form.title}」の報告がありました。関係データ{len(packages)}件を凍結しました。"
                "事故の画面（/staff/incidents）で内容を確認し、指示を記録してください。"
            ),
        )
    return incident


async def remove_access(
    sessions: async_sessionmaker[AsyncSession], connectors: Mapping[str, Connector], incident_id: int
) -> None:
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        rows = (
            await session.scalars(
                select(IncidentPackage)
                .where(IncidentPackage.incident_id == incident_id)
                .options(selectinload(IncidentPackage.package).selectinload(Package.contract))
            )
        ).all()
        for row in rows:
            row.access_removed = await _take_out_of_reach(session, connectors, row.package)
            await record(
                session,
                RegisterEntry(
                    kind=RegisterKind.INCIDENT_ACCESS_REMOVED,
                    category=Category.ADMIN,
                    content=f"事故「{incident.title}」により凍結したデータ（{row.package.zip_name}）：{row.access_removed}",
                    contract_id=row.package.contract.public_id,
                    package_id=row.package.public_id,
                    handler_from=incident.reported_by,
                    details={"incident_id": incident.public_id, "outcome": row.access_removed},
                ),
            )


async def _take_out_of_reach(session: AsyncSession, connectors: Mapping[str, Connector], package: Package) -> str:
    """Do what the endpoint allows and say exactly that: the sentence goes into the report as it stands."""
    location = package.location
    connector = connectors.get(location["connector"]) if location else None
    if location is None or connector is None:
        return "接続先上の複製なし、または接続先未設定（接続先では何もしていません）"
    try:
        if isinstance(connector, LocalConnector):
            name = Path(location["location"]).name
            moved_to = await connector.withdraw(location["folder"], name)
            if moved_to is None:
                return f"{connector.name}（出力先フォルダ）にファイルはありませんでした（措置不要）"
            package.location = {**location, "folder": moved_to, "location": str(connector.path_of(moved_to, name))}
            return (
                f"{connector.name}（出力先フォルダ）からファイルを取り下げ、区のみが開ける保管場所"
                f"（{moved_to}）へ移動（提供先からは参照できません）"
            )
        await connector.revoke(location["folder"], await _grantees(session, package.contract_id))
    except ConnectorError as exc:
        return f"接続先での措置に失敗（ファイルは残っています）：{exc.reason_ja}"
    if connector.kind == "box":
        return f"{connector.name}（Box）のフォルダから提供先のアクセス権（コラボレーション）を削除"
    return (
        f"{connector.name}（{connector.kind}）ではハブがアクセス権を管理していないため、ファイルは接続先に残っています。"
        "接続先の管理者が削除または移動してください"
    )


async def record_report(
    session: AsyncSession, incident: Incident, which: str, at: datetime, *, by: str, reference: str
) -> None:
    """Record that the preliminary (速報) or final (確報) report went to the PPC: when, by whom, its reference."""
    if which == "preliminary":
        incident.preliminary_reported_at, kind = at, RegisterKind.INCIDENT_PRELIMINARY_REPORTED
        incident.preliminary_reported_by, incident.preliminary_reference = by, reference
    elif which == "final":
        if incident.preliminary_reported_at is None:
            raise ValueError("確報の前に速報の提出を記録してください。")
        incident.final_reported_at, kind = at, RegisterKind.INCIDENT_FINAL_REPORTED
        incident.final_reported_by, incident.final_reference = by, reference
    else:
        raise ValueError("報告の種類は速報（preliminary）または確報（final）です。")
    contract = await session.get(Contract, incident.contract_id) if incident.contract_id is not None else None
    label = REPORT_LABELS[which]
    await record(
        session,
        RegisterEntry(
            kind=kind,
            category=Category.ADMIN,
            content=f"個人情報保護委員会へ{label}を提出（{incident.title}、{to_wareki(at)}、{reference}）",
            contract_id=contract.public_id if contract else None,
            handler_from=by,
            handler_to="個人情報保護委員会",
            details={"incident_id": incident.public_id, "reference": reference, "reported_at": at.isoformat()},
        ),
    )


async def remind(sessions: async_sessionmaker[AsyncSession], now: datetime, *, mailer: Mailer | None) -> dict[str, Any]:
    notices: list[NewNotice] = []
    overdue: list[str] = []
    async with sessions() as session, session.begin():
        # Settled by the recorded filings; a closed incident (judged not reportable, say) is not chased either.
        incidents = (
            await session.scalars(
                select(Incident).where(Incident.closed_at.is_(None)).options(selectinload(Incident.contract))
            )
        ).all()
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
                    message_ja=(
                        f"事故「{incident.title}」の{label}の期限は{to_wareki(due)}です。提出し、事故の画面"
                        "（/staff/incidents）または handover incidents filed で記録してください。"
                    ),
                )
                notices += [notice] if notice else []
    sent = await send_emails(sessions, notices, mailer)
    return {"overdue": overdue, "notices": len(notices), "emailed": sent}
