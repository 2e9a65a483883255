"""Releasing a package password under the split-password rule (C-02), on one of three channels.

Every decision, allowed or refused, is kept as a ``PasswordRelease`` row and a register line (who, when, which
channel). The password is unsealed only after an allowed decision and is handed straight to the channel; it is
never logged or stored unsealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.contract_facts import contract_facts
from exchange.delivery.package_state import Use, refusal
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action
from exchange.keys import sealing
from ledger.models import Contract, Designation, Package, PasswordRelease, Person, RouteTarget
from ledger.models.audit import AuditEvent
from ledger.models.base import utcnow
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date
from policies import channels
from policies import split_password as rule
from policies.channels import PasswordChannel

__all__ = ["PasswordChannel", "PasswordRefused", "Released", "release"]


class PasswordRefused(Exception):
    def __init__(self, decision: rule.ReleaseDecision) -> None:
        super().__init__(decision.reason_ja)
        self.decision = decision


@dataclass(frozen=True)
class Released:
    password: str
    package: Package
    person: Person
    contract: Contract
    channel: PasswordChannel

    def __repr__(self) -> str:  # the password must never reach a log through repr()
        return f"Released(package={self.package.public_id}, channel={self.channel})"


async def _data_channels(
    session: AsyncSession, package: Package, connector_kinds: dict[str, str]
) -> frozenset[channels.DataChannel]:
    """The ways the data went: its connector's kind (the planned one and the one that delivered, when they are
    configured here) and ``portal`` once anyone downloaded it from the portal or the API."""
    used = {package.connector, package.delivered_via or package.connector}
    found = {channels.of_connector_kind(connector_kinds[name]) for name in used if name in connector_kinds}
    downloaded = await session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.action.in_((Action.PACKAGE_DOWNLOAD, AuditAction.PACKAGE_DOWNLOAD_RESUME)),
            AuditEvent.outcome == "allowed",
            AuditEvent.object_id == package.public_id,
        )
        .limit(1)
    )
    if downloaded is not None:
        found.add(channels.DataChannel.PORTAL)
    return frozenset(found)


async def _request(
    session: AsyncSession,
    contract: Contract,
    package: Package,
    person: Person,
    channel: PasswordChannel,
    connector_kinds: dict[str, str],
    moment: datetime,
    login_session: str | None,
) -> rule.ReleaseRequest:
    """What the split-password rule needs, for a package whose own state lets it give its password."""
    assert package.delivered_at is not None  # package_state refuses a package not delivered
    designations = (
        await session.execute(
            select(Designation, Person)
            .join(Person, Designation.person_id == Person.id)
            .where(Designation.contract_id == contract.id, Designation.revoked_at.is_(None))
        )
    ).all()
    return rule.ReleaseRequest(
        contract=await contract_facts(session, contract),
        recipient_id=person.public_id,
        designations=tuple(rule.Designation(p.public_id, contract.public_id, d.role.value) for d, p in designations),
        password_channel=channel,
        data_channels=await _data_channels(session, package, connector_kinds),
        delivered_at=package.delivered_at,
        acknowledged_at=package.acknowledged_at,
        now=moment,
        today=jst_date(moment),
        allowed_channels=await _allowed_channels(session, package),
        same_session=await _downloaded_in(session, package, login_session),
    )


async def _downloaded_in(session: AsyncSession, package: Package, login_session: str | None) -> bool:
    """True when an allowed download of ``package`` (counted or resumed, page or API) was made in this login."""
    if login_session is None:
        return False
    found = await session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.action.in_((Action.PACKAGE_DOWNLOAD, AuditAction.PACKAGE_DOWNLOAD_RESUME)),
            AuditEvent.outcome == "allowed",
            AuditEvent.object_id == package.public_id,
            AuditEvent.login_session == login_session,
        )
        .limit(1)
    )
    return found is not None


async def _allowed_channels(session: AsyncSession, package: Package) -> frozenset[str] | None:
    """The route target's ``password_channels``: the ward's choice binds every release path (C-02)."""
    if package.route_target_id is None:
        return None
    target = await session.get(RouteTarget, package.route_target_id)
    assert target is not None
    return frozenset(target.password_channels)


async def release(
    session: AsyncSession,
    package: Package,
    person: Person,
    channel: PasswordChannel,
    *,
    keyring: sealing.Keyring,
    connector_kinds: dict[str, str],
    now: datetime | None = None,
    login_session: str | None = None,
) -> Released:
    """Decide, record, and (when allowed) unseal. Raises PasswordRefused after recording a refusal.

    The package's own state is checked first, exactly as for a download (``exchange.delivery.package_state``);
    only a package that may give its password goes before the split-password rule. Runs in the caller's
    transaction; the caller commits even on refusal, so refused attempts are kept. ``login_session`` is the
    asking request's login occasion (``exchange.web.sessions.occasion``), for a portal pick-up.
    """
    moment = now or utcnow()
    contract = await session.get(Contract, package.contract_id)
    assert contract is not None
    refused = refusal(package, Use.PASSWORD)
    if refused is not None:
        decision = rule.ReleaseDecision(allowed=False, code=refused.code, reason_ja=refused.reason_ja)
    else:
        request = await _request(session, contract, package, person, channel, connector_kinds, moment, login_session)
        decision = rule.SplitPasswordRule().decide(request)
    session.add(
        PasswordRelease(
            package_id=package.id,
            person_id=person.id,
            channel=channel.value,
            allowed=decision.allowed,
            reason_code=str(decision.code),
            decided_at=moment,
        )
    )
    await record(
        session,
        RegisterEntry(
            kind=RegisterKind.PASSWORD_RELEASED if decision.allowed else RegisterKind.PASSWORD_REFUSED,
            category=Category.PASSWORD_NOTICE if decision.allowed else Category.REFUSED,
            content=("パスワード通知" if decision.allowed else "パスワード通知の拒否") + f"（{package.zip_name}）",
            contract_id=contract.public_id,
            package_id=package.public_id,
            handler_from="system",
            handler_to=person.name,
            channel=channel.value,
            details={"code": str(decision.code), "reason": decision.reason_ja},
        ),
    )
    if not decision.allowed:
        raise PasswordRefused(decision)
    assert package.sealed_password is not None
    sealed = sealing.SealedSecret.from_bytes(package.sealed_password)
    password = sealing.unseal(keyring, sealed, package.public_id.encode()).decode()
    return Released(password, package, person, contract, channel)
