"""Who may do what in the portal: every authorisation decision is made here, one function per question.

Roles (C-05, C-10): ward staff act on their own section's contracts; a contractor's manager or handler acts
only on contracts they are designated on (not revoked), of their own party, within the contract period, and,
for a sub-contract, only while the ward's approval stands (C-06). The compliance officer reads everything and
changes nothing; the admin administers (designations, approvals, invitations) and reads, but never takes data
or passwords: only designated people do.

Network (C-08): a contractor's or sub-contractor's people are admitted only from their party's allowlisted
networks, and a contractor party without an allowlist admits nobody (fail closed: the ward must register
where its contractors connect from). Ward parties may leave the list empty to mean "no restriction"; admin
accounts without a person are not network-restricted here (run the portal behind the ward's own firewall).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.contract_facts import contract_facts
from exchange.delivery.package_state import PackageState, Use, refusal
from ledger.models.contracts import Contract, Designation, Program
from ledger.models.packages import Package
from ledger.models.parties import Account, Party, PartyKind, Person, PersonRole
from ledger.wareki import jst_date
from policies import rules
from policies.errors import PolicyRefusal

CONTRACTOR_ROLES = frozenset({PersonRole.MANAGER, PersonRole.HANDLER})
CONTRACTOR_PARTIES = frozenset({PartyKind.CONTRACTOR, PartyKind.SUBCONTRACTOR})


class Action(enum.StrEnum):
    PACKAGE_VIEW = "package.view"
    PACKAGE_DOWNLOAD = "package.download"
    PACKAGE_ACKNOWLEDGE = "package.acknowledge"
    PASSWORD_PICKUP = "password.pickup"  # noqa: S105 - an action name
    INBOUND_UPLOAD = "inbound.upload"
    STAFF_VIEW = "staff.view"
    DESIGNATION_CHANGE = "designation.change"
    SUBCONTRACT_APPROVE = "subcontract.approve"
    SENSITIVE_APPROVE = "sensitive.approve"  # record the ward's approval for forbidden-category items (C-07)
    PACKAGE_REVOKE = "package.revoke"
    PACKAGE_RESEND = "package.resend"
    CERTIFICATE_SUBMIT = "certificate.submit"
    COMPLIANCE_VIEW = "compliance.view"
    # Accounts (C-10): see them, and cut one off or restore it (exchange/web/accounts.py, handover accounts …)
    ACCOUNTS_VIEW = "accounts.view"
    ACCOUNT_DISABLE = "account.disable"
    ACCOUNT_ENABLE = "account.enable"
    ACCOUNT_UNLOCK = "account.unlock"
    ACCOUNT_END_SESSIONS = "account.end_sessions"
    API_TOKEN_REVOKE = "api_token.revoke"  # noqa: S105 - an action name
    # What came back (exchange/web/staff_inbound.py, handover inbound …): see it, take it, decide on a quarantined
    # one, and pick up the password of its ZIP in the ward's return folder
    INBOUND_VIEW = "inbound.view"
    INBOUND_FETCH = "inbound.fetch"
    INBOUND_DECIDE = "inbound.decide"
    RETURN_PASSWORD = "return.password"  # noqa: S105 - an action name
    # Quarantined drops (exchange/intake/quarantine_decisions.py, exchange/web/staff_quarantine.py, handover quarantine)
    QUARANTINE_RELEASE = "quarantine.release"
    QUARANTINE_DISCARD = "quarantine.discard"
    QUARANTINE_DOWNLOAD = "quarantine.download"
    # Oversight (C-18, C-19): exchange/web/inspections.py, exchange/web/incidents.py
    INSPECTION_RECORD = "inspection.record"
    INCIDENT_MANAGE = "incident.manage"
    INCIDENT_REPORT = "incident.report"
    # C-04: ward staff accept or return (差戻し) a contractor's deletion certificate
    CERTIFICATE_REVIEW = "certificate.review"
    # C-11: the compliance officer records that the access-log findings were reviewed
    ACCESS_REVIEW = "access.review"
    # Printing (C-17, C-03): the printer explains print-log findings and records deliveries of sealed notices;
    # ward staff confirm those deliveries and record paper or in-person hand-overs (exchange/web/print_logs.py)
    PRINTLOG_REASON = "printlog.reason"
    NOTICES_DELIVER = "notices.deliver"
    NOTICES_CONFIRM = "notices.confirm"
    PAPER_HANDOVER = "paper.handover"


# Actions that take data, passwords or act as the recipient: only designated contractor people.
RECIPIENT_ACTIONS = frozenset(
    {Action.PACKAGE_DOWNLOAD, Action.PACKAGE_ACKNOWLEDGE, Action.PASSWORD_PICKUP, Action.INBOUND_UPLOAD}
) | {Action.PRINTLOG_REASON, Action.NOTICES_DELIVER}
WARD_CHANGES = frozenset(
    {
        Action.DESIGNATION_CHANGE,
        Action.SUBCONTRACT_APPROVE,
        Action.SENSITIVE_APPROVE,
        Action.PACKAGE_REVOKE,
        Action.PACKAGE_RESEND,
    }
    | {Action.INBOUND_DECIDE, Action.CERTIFICATE_REVIEW, Action.NOTICES_CONFIRM, Action.PAPER_HANDOVER}
)
# Taking what came back (a returned file, a return ZIP's password): ward staff of the section, and for a
# sub-contractor's upload the parent contractor's designated people (the chain 丙→乙→甲).
INBOUND_TAKES = frozenset({Action.INBOUND_FETCH, Action.RETURN_PASSWORD})
# A contractor inspects its own sub-contractors and reports its own incidents, on the contract it is designated on;
# the ward records inspections and manages incidents as it makes its other changes.
CONTRACTOR_OVERSIGHT = frozenset({Action.INSPECTION_RECORD, Action.INCIDENT_REPORT})
WARD_OVERSIGHT = frozenset({Action.INSPECTION_RECORD, Action.INCIDENT_MANAGE})


@dataclass(frozen=True)
class Principal:
    account_id: int
    account_public_id: str
    login: str
    role: PersonRole
    person_id: int | None = None
    person_name: str | None = None
    party_id: int | None = None
    party_kind: PartyKind | None = None
    section: str | None = None
    ip_allowlist: tuple[str, ...] = ()

    @property
    def is_contractor(self) -> bool:
        return self.role in CONTRACTOR_ROLES


@dataclass(frozen=True)
class ContractScope:
    """What the rules need to know about one contract, loaded once per request."""

    contract_id: int
    public_id: str
    party_id: int
    section: str
    designated: frozenset[int]  # person ids with an active designation
    live: bool  # within its period (and its parents'), and any sub-contract approval stands
    not_live_reason: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = "allowed"
    reason_ja: str = ""
    # A refusal that must not reveal that the object exists (another party's package): answer 404.
    hidden: bool = False


ALLOW = Decision(True)


def _deny(code: str, reason: str, *, hidden: bool = False) -> Decision:
    return Decision(False, code, reason, hidden)


async def load_principal(session: AsyncSession, account: Account) -> Principal:
    person = await session.get(Person, account.person_id) if account.person_id is not None else None
    party = await session.get(Party, person.party_id) if person is not None else None
    return Principal(
        account_id=account.id,
        account_public_id=account.public_id,
        login=account.login,
        role=account.role,
        person_id=person.id if person else None,
        person_name=person.name if person else None,
        party_id=party.id if party else None,
        party_kind=party.kind if party else None,
        section=person.section if person else None,
        ip_allowlist=tuple(party.ip_allowlist) if party else (),
    )


def network_allows(principal: Principal, source_ip: str) -> Decision:
    """C-08: may this person connect from ``source_ip`` at all?"""
    if principal.party_kind is None:
        return ALLOW
    if not principal.ip_allowlist:
        if principal.party_kind in CONTRACTOR_PARTIES:
            return _deny(
                "network.no_allowlist",
                "所属する事業者の接続元ネットワークが登録されていないため、利用できません。区の担当者に連絡してください。",
            )
        return ALLOW
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return _deny("network.unknown_address", "接続元を確認できないため、利用できません。")
    for cidr in principal.ip_allowlist:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return ALLOW
        except ValueError:
            continue
    return _deny("network.not_allowed", "登録された接続元以外からは利用できません。区の担当者に連絡してください。")


async def contract_scope(session: AsyncSession, contract: Contract, now: datetime) -> ContractScope:
    program = await session.get(Program, contract.program_id)
    assert program is not None
    designated = (
        await session.execute(
            select(Designation.person_id).where(
                Designation.contract_id == contract.id, Designation.revoked_at.is_(None)
            )
        )
    ).scalars()
    facts = await contract_facts(session, contract)
    reason = ""
    try:
        rules.check_period(facts, jst_date(now))
        rules.check_subcontract_chain(facts, now)
    except PolicyRefusal as refusal:
        reason = refusal.reason
    return ContractScope(
        contract_id=contract.id,
        public_id=contract.public_id,
        party_id=contract.party_id,
        section=program.section,
        designated=frozenset(designated),
        live=not reason,
        not_live_reason=reason,
    )


def _recipient(principal: Principal, scope: ContractScope) -> Decision:
    if not principal.is_contractor or principal.person_id is None:
        return _deny("role.not_recipient", "データの受取りは、契約で届け出られた取扱責任者・取扱者のみが行えます。")
    if principal.party_id != scope.party_id or principal.person_id not in scope.designated:
        return _deny("contract.not_designated", "対象が見つかりません。", hidden=True)
    if not scope.live:
        return _deny("contract.not_live", scope.not_live_reason)
    return ALLOW


def _certifier(principal: Principal, scope: ContractScope) -> Decision:
    """C-04: a deletion certificate is owed after the contract ends, so it needs a designation, not a live one."""
    if principal.role is PersonRole.COMPLIANCE:
        return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更はできません。")
    if not principal.is_contractor or principal.person_id is None:
        return _deny("role.not_recipient", "消去証明書は、契約で届け出られた取扱責任者・取扱者が提出します。")
    if principal.party_id != scope.party_id or principal.person_id not in scope.designated:
        return _deny("contract.not_designated", "対象が見つかりません。", hidden=True)
    return ALLOW


# What each action does with a package, for the package's own state (``exchange.delivery.package_state``).
_PACKAGE_USES = {
    Action.PACKAGE_VIEW: Use.VIEW,
    Action.PACKAGE_DOWNLOAD: Use.DOWNLOAD,
    Action.PACKAGE_ACKNOWLEDGE: Use.ACKNOWLEDGE,
    Action.PASSWORD_PICKUP: Use.PASSWORD,
}


def _package_state(action: Action, package: Package) -> Decision:
    refused = refusal(package, _PACKAGE_USES[action])
    if refused is None:
        return ALLOW
    # A package not yet delivered is not shown through its page to anyone: answer as for an unknown id, so that
    # a recipient cannot learn that it exists.
    if refused.state is PackageState.NOT_DELIVERED:
        return _deny(refused.code, "対象が見つかりません。", hidden=True)
    return _deny(refused.code, refused.reason_ja)


def _ward_reader(principal: Principal, scope: ContractScope | None) -> bool:
    if principal.role in (PersonRole.ADMIN, PersonRole.COMPLIANCE):
        return True
    if principal.role is PersonRole.STAFF:
        return scope is None or (principal.section is not None and principal.section == scope.section)
    return False


def decide(
    principal: Principal, action: Action, scope: ContractScope | None = None, package: Package | None = None
) -> Decision:
    """The one authorisation rule: may ``principal`` do ``action`` on this contract (and package)?"""
    if action is Action.COMPLIANCE_VIEW:
        if principal.role in (PersonRole.COMPLIANCE, PersonRole.ADMIN):
            return ALLOW
        return _deny("role.not_compliance", "この画面は監査担当者のみが利用できます。")
    if action is Action.ACCESS_REVIEW:
        # The review is the compliance officer's own duty (C-11), so not even the admin records it for them.
        if principal.role is PersonRole.COMPLIANCE and principal.person_id is not None:
            return ALLOW
        return _deny("role.not_compliance", "アクセスログの確認は監査担当者のみが記録できます。")
    if action is Action.STAFF_VIEW:
        if principal.role in (PersonRole.STAFF, PersonRole.ADMIN) and _ward_reader(principal, scope):
            return ALLOW
        return _deny("role.not_staff", "この画面は担当課の職員のみが利用できます。", hidden=scope is not None)
    if action in INBOUND_TAKES or action is Action.INBOUND_VIEW:
        return _inbound(principal, action, scope)
    if action in CONTRACTOR_OVERSIGHT and principal.is_contractor:
        assert scope is not None, f"{action} needs a contract"
        return _recipient(principal, scope)
    if action in WARD_CHANGES or action in WARD_OVERSIGHT:
        if principal.role is PersonRole.COMPLIANCE:
            return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更はできません。")
        if principal.role is PersonRole.ADMIN or (
            principal.role is PersonRole.STAFF and _ward_reader(principal, scope)
        ):
            return ALLOW
        return _deny("role.not_staff", "この操作は担当課の職員のみが行えます。", hidden=principal.is_contractor)
    assert scope is not None, f"{action} needs a contract"
    if action is Action.CERTIFICATE_SUBMIT:
        return _certifier(principal, scope)
    if action is Action.PACKAGE_VIEW and not principal.is_contractor:
        if not _ward_reader(principal, scope):
            return _deny("role.not_reader", "対象が見つかりません。", hidden=True)
        return _package_state(action, package) if package is not None else ALLOW
    if action in RECIPIENT_ACTIONS and _ward_reader(principal, scope):
        if principal.role is PersonRole.COMPLIANCE:
            return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更やデータの受取りはできません。")
        return _deny("role.not_recipient", "データの受取りは、契約で届け出られた取扱責任者・取扱者のみが行えます。")
    recipient = _recipient(principal, scope)
    if not recipient.allowed:
        return recipient
    return _package_state(action, package) if package is not None else ALLOW


def _inbound(principal: Principal, action: Action, scope: ContractScope | None) -> Decision:
    """What came back from contractors: ``scope`` is the uploading contract's for ward people and, for a
    contractor, its parent contract's (a sub-contractor's upload reaches the contractor above it, C-06).

    Ward readers see it all (their section's); only staff of the section take data or a ZIP's password (the admin
    administers and the compliance officer reads, neither receives), and the parent contractor's designated people
    see and take their sub-contractor's uploads, not the return folder's passwords (the folder is the ward's).
    """
    if principal.is_contractor:
        if scope is None or action is Action.RETURN_PASSWORD:
            return _deny("role.not_staff", "対象が見つかりません。", hidden=True)
        return _recipient(principal, scope)
    if not _ward_reader(principal, scope):
        return _deny("role.not_reader", "対象が見つかりません。", hidden=True)
    if action is Action.INBOUND_VIEW or principal.role is PersonRole.STAFF:
        return ALLOW
    if principal.role is PersonRole.COMPLIANCE:
        return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更やデータの受取りはできません。")
    return _deny("role.not_recipient", "返送されたデータの受取りは、所管課の職員のみが行えます。")


# --- accounts (C-10) ---------------------------------------------------------------------------------------------

ACCOUNT_CHANGES = frozenset(
    {
        Action.ACCOUNT_DISABLE,
        Action.ACCOUNT_ENABLE,
        Action.ACCOUNT_UNLOCK,
        Action.ACCOUNT_END_SESSIONS,
        Action.API_TOKEN_REVOKE,
    }
)


@dataclass(frozen=True)
class AccountScope:
    """What the rules need to know about the account acted on."""

    account_id: int
    role: PersonRole
    # Sections whose contracts designate the account's person now: ward staff of those sections look after it.
    sections: frozenset[str] = frozenset()


async def account_scope(session: AsyncSession, account: Account) -> AccountScope:
    sections: frozenset[str] = frozenset()
    if account.person_id is not None:
        rows = await session.execute(
            select(Program.section)
            .join(Contract, Contract.program_id == Program.id)
            .join(Designation, Designation.contract_id == Contract.id)
            .where(Designation.person_id == account.person_id, Designation.revoked_at.is_(None))
        )
        sections = frozenset(rows.scalars())
    return AccountScope(account.id, account.role, sections)


def decide_account(principal: Principal, action: Action, target: AccountScope | None = None) -> Decision:
    """May ``principal`` see accounts (``target`` None: the list) or act on this one?

    The admin looks after every account; ward staff after the contractor people designated on their own section's
    contracts (they are the ones who notice a departure or a stolen laptop first); the compliance officer reads.
    """
    if principal.is_contractor:
        return _deny("role.not_staff", "対象が見つかりません。", hidden=True)
    if principal.role is PersonRole.COMPLIANCE and action in ACCOUNT_CHANGES:
        return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更はできません。")
    if target is None or principal.role in (PersonRole.ADMIN, PersonRole.COMPLIANCE):
        if action is Action.ACCOUNT_DISABLE and target is not None and target.account_id == principal.account_id:
            return _deny("account.self", "自分のアカウントは停止できません。")
        return ALLOW
    if (
        principal.role is PersonRole.STAFF
        and target.role in CONTRACTOR_ROLES
        and principal.section is not None
        and principal.section in target.sections
    ):
        return ALLOW
    return _deny("account.not_in_scope", "対象が見つかりません。", hidden=True)


# --- quarantined drops -------------------------------------------------------------------------------------------

QUARANTINE_ACTIONS = frozenset({Action.QUARANTINE_RELEASE, Action.QUARANTINE_DISCARD, Action.QUARANTINE_DOWNLOAD})


def decide_quarantine(principal: Principal, action: Action, section: str) -> Decision:
    """A quarantined drop belongs to the section owning its route: only that section's ward staff release,
    discard or take out its original (not the administrator, who runs the hub but owns no data)."""
    assert action in QUARANTINE_ACTIONS
    if principal.role is PersonRole.STAFF and principal.section is not None and principal.section == section:
        return ALLOW
    if principal.role is PersonRole.COMPLIANCE:
        return _deny("role.read_only", "監査担当者は閲覧のみ可能で、変更やデータの取出しはできません。")
    return _deny(
        "role.not_section_staff",
        "隔離されたファイルの操作は、経路を所管する課の職員のみが行えます。",
        hidden=principal.is_contractor,
    )
