"""The handover register (管理簿・確認記録票): every hand-over step, written through one function.

Each call queues one tamper-evident ledger entry in the caller's transaction, so the business change and its
register line commit together; the line has its ledger index by the time the commit returns. Entries name
handlers (staff and contractor people) but never residents' data: content is described by file names, item names
and counts. What a line records is one ``RegisterKind``; where a domain writes the same shape of line from several
places, it offers an entry builder beside its own code (``exchange/intake/results.py``,
``exchange/inbound/uploads.py``), so its callers do not assemble one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.tlog.appending import append


class Category(enum.StrEnum):
    """区分 of a register line, as the ward's paper ledgers name them."""

    PROVIDED = "提供"
    RECEIVED = "受領"
    RETURNED = "返却"
    ERASED = "消去"
    PASSWORD_NOTICE = "パスワード通知"  # noqa: S105 - a category name, not a secret
    PRINT_DELIVERED = "納品"
    REFUSED = "受付拒否"
    ADMIN = "管理"


class RegisterKind(enum.StrEnum):
    """What a register line records: the ``kind`` of its ledger entry, one member per kind of step.

    The values are stored in every entry and read back by reports and outside verifiers, so a value never changes
    once written: a new step gets a new member (and ``tests/test_vocabulary.py`` checks that each has a writer).
    """

    # Intake and delivery (exchange/intake, exchange/delivery, the staff pages)
    PACKAGE_SEALED = "package.sealed"  # one contract's share of a dropped file was encrypted into a package
    PACKAGE_DELIVERED = "package.delivered"  # a connector delivered a package to the recipient's endpoint
    PACKAGE_FALLBACK = "package.fallback"  # the primary connector failed; the package goes the fallback way
    PACKAGE_DELIVERY_FAILED = "package.delivery_failed"  # a permanent delivery error; the package waits for staff
    INTAKE_FINISHED = "intake.finished"  # every package of a dropped file was delivered; the original removed
    INTAKE_QUARANTINED = "intake.quarantined"  # a dropped file was refused and moved to the quarantine folder
    PACKAGE_DOWNLOADED = "package.downloaded"  # a designated person downloaded a package (a counted download)
    PACKAGE_ACKNOWLEDGED = "package.acknowledged"  # the recipient confirmed receipt (portal, API or staff CLI)
    PACKAGE_REVOKED = "package.revoked"  # ward staff stopped further downloads and password pick-ups
    PACKAGE_RESEND = "package.resend"  # ward staff queued a failed delivery again
    # Passwords (exchange/passwords); the noqa: these are event names, not secrets
    PASSWORD_RELEASED = "password.released"  # noqa: S105 - a package's password went to a designated person
    PASSWORD_REFUSED = "password.refused"  # noqa: S105 - the split-password rule refused to release one
    # Contractors' uploads (exchange/inbound)
    INBOUND_RECEIVED = "inbound.received"  # an upload passed the virus scan and was kept
    INBOUND_REFUSED = "inbound.refused"  # an upload was infected and deleted
    INBOUND_QUARANTINED = "inbound.quarantined"  # an upload failed the contract's checks; kept sealed, with why
    REFERENCE_LOADED = "reference.loaded"  # ward staff registered reference data (S1 extract) to check returns
    REFERENCE_REMOVED = "reference.removed"  # ward staff deleted a contract's reference data
    # Who may receive (exchange/identity, the staff pages)
    ACCOUNT_INVITED = "account.invited"  # a portal invitation letter (login and code) was issued to a person
    ACCOUNT_DISABLED = "account.disabled"  # an account was cut off: no sign-in, its sessions and tokens ended
    ACCOUNT_ENABLED = "account.enabled"  # a disabled account may sign in again
    ACCOUNT_UNLOCKED = "account.unlocked"  # an administrator lifted an account's sign-in lockout
    ACCOUNT_SESSIONS_ENDED = "account.sessions_ended"  # every portal session of an account was ended
    API_TOKEN_REVOKED = "api_token.revoked"  # noqa: S105 - an event name; an API token was revoked before it expired
    DESIGNATION_ADDED = "designation.added"  # a person was designated 取扱責任者 or 取扱者 on a contract
    DESIGNATION_REVOKED = "designation.revoked"  # a person's designation on a contract was withdrawn
    SUBCONTRACT_APPROVED = "subcontract.approved"  # the ward's written approval of a sub-contract was recorded
    SUBCONTRACT_REVOKED = "subcontract.revoked"  # ward staff revoked a sub-contract's approval; no data flows to it
    SENSITIVE_APPROVED = "sensitive.approved"  # the ward's approval for forbidden-category items was recorded
    INVITATION_HANDED_OVER = "account.invitation_handed_over"  # a first-credentials letter reached the person
    PROVIDER_CREDENTIALS_RECEIVED = "provider_credentials.received"  # an LGWAN-ASP login came to the ward
    # Media and returns (ledger/registers/media.py, exchange/retention/returns.py)
    MEDIUM_PREPARED = "medium.prepared"  # a DVD was burned and entered in the media register
    MEDIUM_HANDED_OVER = "medium.handed_over"  # a DVD left the ward: to whom, by whom, due back when
    MEDIUM_RETURNED = "medium.returned"  # a DVD came back to the ward
    RETURN_RECEIVED = "return.received"  # a printed password notice came back to the ward
    PASSWORD_NOTICE_HANDED_OVER = "password.notice_handed_over"  # noqa: S105 - staff gave a printed notice
    # Erasure and deletion certificates (exchange/retention)
    PACKAGE_ERASED = "package.erased"  # the retention sweep erased every hub copy of a package (crypto-erase)
    CERTIFICATE_HUB_ISSUED = "certificate.hub_issued"  # the hub issued its own signed deletion certificate
    CERTIFICATE_HUB_VALIDATED = "certificate.hub_validated"  # ward staff checked an issued hub certificate
    CERTIFICATE_REQUESTED = "certificate.requested"  # a party was asked for its deletion certificate
    CERTIFICATE_SUBMITTED = "certificate.submitted"  # a party submitted a deletion certificate
    CERTIFICATE_COMPLETED = "certificate.completed"  # certificates now cover every package the family received
    CERTIFICATE_OVERDUE = "certificate.overdue"  # a requested certificate is late; ward staff were told
    CERTIFICATE_ACCEPTED = "certificate.accepted"  # ward staff accepted a contractor's certificate (受理)
    CERTIFICATE_RETURNED = "certificate.returned"  # ward staff returned one (差戻し); it must be submitted again
    # Oversight (exchange/oversight)
    PRINTLOG_RECEIVED = "printlog.received"  # a contractor's print log was uploaded and checked
    PRINTLOG_FINDING = "printlog.finding"  # the check found a duplicate print or a file outside the deliveries
    PRINTLOG_REASON = "printlog.reason"  # the contractor explained a print-log finding
    ACCESS_REVIEWED = "access.reviewed"  # the compliance officer reviewed a year's access-log findings
    INSPECTION_RECORDED = "inspection.recorded"  # the result of a fiscal year's on-site inspection
    INCIDENT_RECORDED = "incident.recorded"  # an incident was recorded and its packages frozen
    INCIDENT_PRELIMINARY_REPORTED = "incident.preliminary_reported"  # the preliminary report (速報) went to the PPC
    INCIDENT_FINAL_REPORTED = "incident.final_reported"  # the final report (確報) went to the PPC
    # What came back, on the ward's side (exchange/inbound/inbox.py, exchange/inbound/return_folders.py)
    INBOUND_FETCHED = "inbound.fetched"  # a member of staff (or the parent contractor) took a returned file
    INBOUND_RELEASED = "inbound.released"  # staff released a quarantined upload after review: it is accepted
    INBOUND_DISCARDED = "inbound.discarded"  # staff discarded a quarantined upload: its sealed file is deleted
    INBOUND_RETURN_DELIVERED = "inbound.return_delivered"  # an accepted upload went into a return folder as a ZIP
    INBOUND_RETURN_ACKNOWLEDGED = "inbound.return_acknowledged"  # staff confirmed the ZIP arrived in the folder
    # Quarantined drops (exchange/intake/quarantine_decisions.py): what ward staff decided about a sealed drop
    INTAKE_RELEASED = "intake.released"  # re-queued after a fix: the sealed drop became a new intake of its route
    INTAKE_DISCARDED = "intake.discarded"  # the sealed drop was deleted (crypto-erase)
    INTAKE_QUARANTINE_DOWNLOADED = "intake.quarantine_downloaded"  # staff took out the original bytes
    INCIDENT_ACCESS_REMOVED = "incident.access_removed"  # what was done at an endpoint to a frozen package
    INCIDENT_INSTRUCTION = "incident.instruction"  # the ward instructed the contractor about an incident
    INCIDENT_ANSWER = "incident.answer"  # the contractor answered about an incident
    INCIDENT_UNFROZEN = "incident.unfrozen"  # a package frozen by an incident was released, with the reason
    INCIDENT_CLOSED = "incident.closed"  # the ward closed an incident
    # Printed matter and paper (exchange/oversight/printed_notices.py)
    NOTICES_DELIVERED = "notices.delivered"  # the printer delivered sealed notices to the ward (納品)
    NOTICES_CONFIRMED = "notices.confirmed"  # ward staff confirmed a delivery of sealed notices
    PAPER_HANDED_OVER = "paper.handed_over"  # staff recorded a hand-over on paper or in person


@dataclass(frozen=True)
class RegisterEntry:
    """One step: ``kind`` is what it records (machine-read), ``category`` the 区分 a person reads."""

    kind: RegisterKind
    category: Category
    content: str
    contract_id: str | None = None
    package_id: str | None = None
    handler_from: str | None = None
    handler_to: str | None = None
    quantity: Mapping[str, int] = field(default_factory=dict)
    channel: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        return {
            "category": self.category.value,
            "content": self.content,
            "handler_from": self.handler_from,
            "handler_to": self.handler_to,
            "quantity": dict(self.quantity),
            "channel": self.channel,
            "details": dict(self.details),
        }


async def record(session: AsyncSession, entry: RegisterEntry) -> None:
    """Write one register line; it is in the ledger once the session's commit returns (``ledger.tlog.sequencing``)."""
    await append(session, entry.kind.value, entry.payload(), contract_id=entry.contract_id, package_id=entry.package_id)
