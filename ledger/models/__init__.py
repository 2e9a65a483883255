"""Every table of the hub; importing this package registers them all on ``Base.metadata``."""

# Feature tables; they import core models from their submodules, never from this package.
from ledger.models import audit, duties, identity, inbound, oversight, registers, retention  # noqa: F401
from ledger.models.base import Base
from ledger.models.contracts import Contract, Designation, DesignationRole, Program, Route, RouteTarget
from ledger.models.ledger import LedgerCheckpoint, LedgerEntry
from ledger.models.packages import IntakeFile, IntakeStatus, Package, PackageStatus, PasswordRelease
from ledger.models.parties import Account, Party, PartyKind, Person, PersonRole
from ledger.models.sessions import WebSession

__all__ = [
    "Account",
    "Base",
    "Contract",
    "Designation",
    "DesignationRole",
    "IntakeFile",
    "IntakeStatus",
    "LedgerCheckpoint",
    "LedgerEntry",
    "Package",
    "PackageStatus",
    "Party",
    "PartyKind",
    "PasswordRelease",
    "Person",
    "PersonRole",
    "Program",
    "Route",
    "RouteTarget",
    "WebSession",
]
