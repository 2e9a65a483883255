"""The one exception every policy raises when it refuses a file, a package or a release.

The hub quarantines the file and shows ``reason`` (Japanese, for staff) while ``code`` (stable, ASCII) goes to
logs, the ledger and tests.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalCode(StrEnum):
    """Machine codes of refusals; values are stable because they are stored in the ledger."""

    ENCODING = "tabular.encoding"
    MALFORMED = "tabular.malformed"
    UNREPRESENTABLE = "tabular.unrepresentable"
    FILE_TYPE = "minimise.file_type"
    MISSING_COLUMNS = "minimise.missing_columns"
    EXTRA_COLUMNS = "minimise.extra_columns"
    DUPLICATE_COLUMNS = "minimise.duplicate_columns"
    ROW_LENGTH = "minimise.row_length"
    FORBIDDEN_CATEGORY = "screening.forbidden_category"
    OUTSIDE_PERIOD = "contract.outside_period"
    WRONG_PROGRAM = "contract.wrong_program"
    CHANNEL_NOT_ALLOWED = "contract.channel_not_allowed"
    SUBCONTRACT_UNAPPROVED = "subcontract.unapproved"
    SUBCONTRACT_REVOKED = "subcontract.revoked"
    SUBCONTRACT_ITEMS = "subcontract.items_not_subset"
    JURISDICTION = "route.jurisdiction"
    NO_CONNECTOR = "route.no_connector"
    NOT_DESIGNATED = "password.not_designated"
    NOT_DELIVERED = "password.not_delivered"
    TOO_EARLY = "password.too_early"
    CHANNEL_REFUSED = "password.channel_not_allowed"
    SAME_SESSION = "password.same_session"
    SAME_CHANNEL = "password.same_channel"
    PLUGIN = "plugin.error"
    INFECTED = "antivirus.infected"
    UNUSABLE_FILE = "intake.unusable_file"


class PolicyRefusal(Exception):
    """A policy said no: ``code`` for machines, ``reason`` (Japanese) for the people who must fix it."""

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
