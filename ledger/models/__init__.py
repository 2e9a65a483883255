"""Every table of the hub, grouped by domain; importing this package registers them all on ``Base.metadata``.

* ``base`` — the declarative base, naming conventions, UTC timestamps, public ids
* ``parties`` — parties (ward, contractors, sub-contractors), their people, login accounts
* ``contracts`` — programs, contracts and sub-contract approvals, designations, routes
* ``packages`` — intake files, packages, password releases
* ``ledger`` — the append-only log's entries and checkpoints
* ``registers`` — DVD media and print logs
* ``retention`` — hub and contractor deletion certificates, expected returns
* ``oversight`` — inspections, incidents, access-log findings and reviews
* ``duties`` — the duties' timetable, runs and notices
* ``credentials`` — login details providers give the ward out of band (LGWAN-ASP), password sealed
* ``identity`` — invitations, second factors, login challenges and throttling, API tokens
* ``sessions`` — portal login sessions
* ``inbound`` — files contractors upload
* ``return_folders`` — the ward's return folders and the AES ZIPs delivered into them
* ``sensitive`` — the ward's approvals for items in a forbidden category
* ``processes`` — running hub processes' heartbeats (roles, last beat, loop states)
* ``audit`` — the portal's audit log
"""

# Feature tables; they import core models from their submodules, never from this package.
from ledger.models import (  # noqa: F401
    audit,
    credentials,
    duties,
    identity,
    inbound,
    oversight,
    processes,
    registers,
    retention,
    return_folders,
    sensitive,
)
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
