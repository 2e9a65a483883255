"""The event vocabularies: register-line kinds (``RegisterKind``), audit-log actions (``AuditAction``) and the kinds
of the duties' notices (``NoticeKind``).

Each is one enum, so mypy rejects a free string where a kind or an action is written. These tests add what the type
checker cannot see: every member has a writer in the product (a member nothing names is a promise no user path
keeps, and would never show on a register or in the audit log), and no value that existing ledgers and audit rows
hold is renamed or dropped (reports, the access-log analysis and outside verifiers read them back).
"""

from __future__ import annotations

import ast
import enum
from pathlib import Path

import pytest

from exchange.duties.notices import NoticeKind
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action
from ledger.registers.handover import RegisterKind

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("exchange", "ledger", "connectors", "policies")

# The values stored before the enums existed: each must stay a member's value forever.
STORED_KINDS = {
    "package.sealed",
    "package.delivered",
    "package.fallback",
    "intake.finished",
    "intake.quarantined",
    "package.downloaded",
    "package.acknowledged",
    "package.revoked",
    "package.resend",
    "password.released",
    "password.refused",
    "inbound.received",
    "inbound.refused",
    "account.invited",
    "designation.added",
    "designation.revoked",
    "subcontract.approved",
    "medium.prepared",
    "medium.handed_over",
    "medium.returned",
    "return.received",
    "password.notice_handed_over",
    "package.erased",
    "certificate.hub_issued",
    "certificate.hub_validated",
    "certificate.requested",
    "certificate.submitted",
    "certificate.completed",
    "certificate.overdue",
    "printlog.received",
    "printlog.finding",
    "printlog.reason",
    "access.reviewed",
    "inspection.recorded",
    "incident.recorded",
    "incident.preliminary_reported",
    "incident.final_reported",
}
STORED_NOTICE_KINDS = {
    "return.overdue",
    "media.overdue",
    "certificate.requested",
    "certificate.reminder",
    "certificate.overdue",
    "inspection.reminder",
    "incident.preliminary",
    "incident.final",
}
STORED_ACTIONS = {
    "page.view",
    "csrf.rejected",
    "access.network",
    "login.password_ok",
    "login.succeeded",
    "login.failed",
    "login.totp_failed",
    "login.setup_totp_failed",
    "login.locked",
    "login.network_denied",
    "account.setup_completed",
    "logout",
    "invitation.accepted",
    "invitation.failed",
    "invitation.network_denied",
    "api.locked",
    "api.auth_failed",
    "api.network",
    "api.packages.list",
    "api.package.view",
    "package.download.resume",
    "package.download.end",
    "inbound.infected",
    "designation.add",
    "designation.revoke",
    "designation.sync",
    "compliance.report.download",
    "compliance.certificate.download",
    # authorisation actions, audited as themselves
    "package.view",
    "package.download",
    "package.acknowledge",
    "password.pickup",
    "inbound.upload",
    "staff.view",
    "designation.change",
    "subcontract.approve",
    "package.revoke",
    "package.resend",
    "certificate.submit",
    "compliance.view",
}


def _named_in_product(vocabulary: type[enum.Enum]) -> set[str]:
    """Members written as ``Vocabulary.MEMBER`` anywhere in the product outside the enum's own module."""
    home = ROOT / (vocabulary.__module__.replace(".", "/") + ".py")
    named: set[str] = set()
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == home:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == vocabulary.__name__
                ):
                    named.add(node.attr)
    return named


@pytest.mark.parametrize("vocabulary", [RegisterKind, AuditAction, NoticeKind], ids=lambda v: v.__name__)
def test_every_member_is_written_somewhere_in_the_product(vocabulary: type[enum.Enum]) -> None:
    named = _named_in_product(vocabulary)
    assert sorted(set(vocabulary.__members__) - named) == []
    # The scan itself must see the product: a misplaced root would pass the line above only by finding nothing.
    assert named


def test_stored_register_kinds_keep_their_values() -> None:
    assert sorted(STORED_KINDS - {kind.value for kind in RegisterKind}) == []


def test_stored_notice_kinds_keep_their_values() -> None:
    # A notice is unique per kind, subject and occasion: a renamed kind would send every reminder again.
    assert sorted(STORED_NOTICE_KINDS - {kind.value for kind in NoticeKind}) == []


def test_stored_audit_actions_keep_their_values_and_name_one_member_each() -> None:
    audit_values = {action.value for action in AuditAction}
    authorisation_values = {action.value for action in Action}
    assert audit_values.isdisjoint(authorisation_values)
    assert sorted(STORED_ACTIONS - audit_values - authorisation_values) == []
