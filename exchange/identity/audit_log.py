"""The portal's audit log (C-11): every page view, download, password pick-up, failed access and admin change.

Rows name accounts, people, parties and public object ids, never residents' data. What a row records is an
authorisation ``Action`` (the request that was allowed or refused, written as itself) or an ``AuditAction`` (every
other event); the two share no value, so a stored name means one member.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from exchange.identity.authorisation import Action
from ledger.models.audit import AuditEvent
from ledger.models.base import utcnow

Outcome = Literal["allowed", "denied", "failed"]


class AuditAction(enum.StrEnum):
    """Audited events that are not an authorisation ``Action``: signing in, network and CSRF refusals, the API.

    Stored in ``audit_events.action`` and read back by the access-log analysis, so a value never changes once
    written; ``tests/test_vocabulary.py`` checks that each member has a writer.
    """

    PAGE_VIEW = "page.view"  # a signed-in person opened a portal page
    CSRF_REJECTED = "csrf.rejected"  # a form came without the session's CSRF token
    ACCESS_NETWORK = "access.network"  # a signed-in request came from outside the party's allowed networks
    # Signing in and out (the noqa: an event name, not a secret)
    LOGIN_PASSWORD_OK = "login.password_ok"  # noqa: S105 - the password was right; TOTP or account setup follows
    LOGIN_SUCCEEDED = "login.succeeded"  # a sign-in completed and a session started
    LOGIN_FAILED = "login.failed"  # an unknown login, a wrong password or a disabled account
    LOGIN_TOTP_FAILED = "login.totp_failed"  # a wrong confirmation code at sign-in
    LOGIN_SETUP_TOTP_FAILED = "login.setup_totp_failed"  # a wrong confirmation code while setting up the factor
    LOGIN_LOCKED = "login.locked"  # an attempt refused while the lockout holds
    LOGIN_NETWORK_DENIED = "login.network_denied"  # a right password from outside the party's allowed networks
    ACCOUNT_SETUP_COMPLETED = "account.setup_completed"  # a person set their password (and factor) after sign-in
    LOGOUT = "logout"  # a person signed out
    # Invitations
    INVITATION_ACCEPTED = "invitation.accepted"  # a valid invitation code was entered; account setup follows
    INVITATION_FAILED = "invitation.failed"  # an unknown, used or expired invitation code
    INVITATION_NETWORK_DENIED = "invitation.network_denied"  # a valid code from outside the allowed networks
    # The API (bearer tokens)
    API_LOCKED = "api.locked"  # a request refused while the source address is locked out
    API_AUTH_FAILED = "api.auth_failed"  # a missing, wrong or expired token
    API_NETWORK = "api.network"  # a valid token used from outside the party's allowed networks
    API_PACKAGES_LIST = "api.packages.list"  # the list of a person's packages was read
    API_PACKAGE_VIEW = "api.package.view"  # one package's facts were read
    # Around the authorised actions
    PACKAGE_DOWNLOAD_RESUME = "package.download.resume"  # a broken download resumed (not counted again)
    PACKAGE_DOWNLOAD_END = "package.download.end"  # a transfer ended: all bytes sent, or interrupted
    INBOUND_INFECTED = "inbound.infected"  # an upload was refused because the virus scan found something
    DESIGNATION_ADD = "designation.add"  # ward staff designated a person on a contract
    DESIGNATION_REVOKE = "designation.revoke"  # ward staff withdrew a designation
    DESIGNATION_SYNC = "designation.sync"  # pushing a designation change to the endpoints failed
    COMPLIANCE_REPORT_DOWNLOAD = "compliance.report.download"  # a register or report was downloaded
    COMPLIANCE_CERTIFICATE_DOWNLOAD = "compliance.certificate.download"  # a hub deletion certificate downloaded


@dataclass(frozen=True)
class Actor:
    account_id: int | None = None
    person_id: int | None = None
    party_id: int | None = None


ANONYMOUS = Actor()


def record(
    session: AsyncSession,
    actor: Actor,
    source_ip: str | None,
    action: AuditAction | Action,
    outcome: Outcome,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, object] | None = None,
    login_session: str | None = None,
) -> None:
    """Add one event to the caller's transaction (``login_session``: the request's login occasion, if any)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            account_id=actor.account_id,
            person_id=actor.person_id,
            party_id=actor.party_id,
            source_ip=source_ip,
            action=action.value,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            detail=dict(detail or {}),
            login_session=login_session,
        )
    )
