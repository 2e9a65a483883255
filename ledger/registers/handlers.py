"""Who may take part in a hand-over (C-05): the people a register line names, resolved from their person code.

A hand-over (a DVD, a printed notice, an invitation letter) is given and taken by people the ward knows in
advance: on the contractor's side a person designated on the contract (取扱責任者・取扱者, designation not
withdrawn); on the ward's side a member of staff of the section that owns the contract's program. Free text is
never accepted: a name typed at a desk proves nothing, so every command asks for a person code and the register
line names the person with that code (``区役 次郎（staff-kaigo）``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Designation, DesignationRole, Program
from ledger.models.parties import Party, PartyKind, Person, PersonRole


class NotAllowedHandler(ValueError):
    """The person may not give or take this hand-over; the message is Japanese, for the person at the desk."""


@dataclass(frozen=True)
class Handler:
    """A person as a register line names them: name and person code, plus the ids a verifier can follow."""

    code: str
    name: str
    public_id: str
    party_code: str

    @property
    def label(self) -> str:
        return f"{self.name}（{self.code}）"

    def details(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "person": self.public_id, "party": self.party_code}


async def _person(session: AsyncSession, code: str) -> tuple[Person, Party]:
    row = (
        await session.execute(select(Person, Party).join(Party, Person.party_id == Party.id).where(Person.code == code))
    ).first()
    if row is None:
        raise NotAllowedHandler(
            f"「{code}」という人物コードは登録されていません。氏名ではなく、登録済みの人物コードを指定してください。"
        )
    return row[0], row[1]


def _handler(person: Person, party: Party) -> Handler:
    return Handler(person.code, person.name, person.public_id, party.code)


async def designated(
    session: AsyncSession,
    contract: Contract,
    code: str,
    *,
    at: datetime | None = None,
    roles: frozenset[DesignationRole] = frozenset(DesignationRole),
) -> Handler:
    """The contractor's person ``code``, if designated on ``contract`` (and not withdrawn) at ``at``."""
    person, party = await _person(session, code)
    moment = at or utcnow()
    designation = await session.scalar(
        select(Designation).where(Designation.contract_id == contract.id, Designation.person_id == person.id)
    )
    active = (
        designation is not None
        and designation.role in roles
        and (designation.revoked_at is None or designation.revoked_at > moment)
    )
    if not active or person.party_id != contract.party_id:
        raise NotAllowedHandler(
            f"{person.name}（{person.code}）は契約「{contract.name}」の取扱責任者・取扱者に指定されていません。"
        )
    return _handler(person, party)


async def ward_staff(session: AsyncSession, contract: Contract, code: str) -> Handler:
    """The ward's person ``code``, if staff of the section that owns ``contract``'s program."""
    person, party = await _person(session, code)
    program = await session.get(Program, contract.program_id)
    assert program is not None  # enforced by the foreign key
    if party.kind is not PartyKind.WARD or person.role is not PersonRole.STAFF or person.section != program.section:
        raise NotAllowedHandler(
            f"{person.name}（{person.code}）は契約「{contract.name}」を所管する{program.section}の職員ではありません。"
        )
    return _handler(person, party)


async def section_staff(session: AsyncSession, section: str, code: str) -> Handler:
    """The ward's person ``code``, if staff of ``section``: for what belongs to a section rather than to one
    contract, such as a route's quarantined drops."""
    person, party = await _person(session, code)
    if party.kind is not PartyKind.WARD or person.role is not PersonRole.STAFF or person.section != section:
        raise NotAllowedHandler(f"{person.name}（{person.code}）は{section}の職員ではありません。")
    return _handler(person, party)


async def any_ward_staff(session: AsyncSession, code: str) -> Handler:
    """The ward's person ``code``, if ward staff (or an administrator) of any section: for hand-overs that belong
    to no single contract, such as a person's first login details."""
    person, party = await _person(session, code)
    if party.kind is not PartyKind.WARD or person.role not in {PersonRole.STAFF, PersonRole.ADMIN}:
        raise NotAllowedHandler(f"{person.name}（{person.code}）は区の職員ではありません。")
    return _handler(person, party)
