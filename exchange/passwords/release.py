"""Releasing a package password under the split-password rule (C-02), on one of three channels.

Every decision, allowed or refused, is kept as a ``PasswordRelease`` row and a register line (who, when, which
channel). The password is unsealed only after an allowed decision and is handed straight to the channel; it is
never logged or stored unsealed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.contract_facts import contract_facts
from exchange.delivery.package_state import Use, refusal
from exchange.keys import sealing
from ledger.models import Contract, Designation, Package, PasswordRelease, Person
from ledger.models.base import utcnow
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date
from policies import split_password as rule


class PasswordChannel(enum.StrEnum):
    NOTICE = "notice"  # printed パスワード通知書, handed over or sent by registered mail
    PORTAL = "portal"  # the portal's own pick-up page, after login with a second factor
    EMAIL = "email"  # an e-mail to the person's separate password address


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


def _data_channels(package: Package, connector_kinds: dict[str, str]) -> frozenset[str]:
    used = {package.connector, package.delivered_via or package.connector}
    return frozenset(connector_kinds.get(name, name) for name in used)


async def _request(
    session: AsyncSession,
    contract: Contract,
    package: Package,
    person: Person,
    channel: PasswordChannel,
    connector_kinds: dict[str, str],
    moment: datetime,
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
        password_channel=channel.value,
        data_channels=_data_channels(package, connector_kinds),
        delivered_at=package.delivered_at,
        acknowledged_at=package.acknowledged_at,
        now=moment,
        today=jst_date(moment),
    )


async def release(
    session: AsyncSession,
    package: Package,
    person: Person,
    channel: PasswordChannel,
    *,
    keyring: sealing.Keyring,
    connector_kinds: dict[str, str],
    now: datetime | None = None,
) -> Released:
    """Decide, record, and (when allowed) unseal. Raises PasswordRefused after recording a refusal.

    The package's own state is checked first, exactly as for a download (``exchange.delivery.package_state``);
    only a package that may give its password goes before the split-password rule. Runs in the caller's
    transaction; the caller commits even on refusal, so refused attempts are kept.
    """
    moment = now or utcnow()
    contract = await session.get(Contract, package.contract_id)
    assert contract is not None
    refused = refusal(package, Use.PASSWORD)
    if refused is not None:
        decision = rule.ReleaseDecision(allowed=False, code=refused.code, reason_ja=refused.reason_ja)
    else:
        request = await _request(session, contract, package, person, channel, connector_kinds, moment)
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
