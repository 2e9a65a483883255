"""``handover admin import``: load parties, people, programs, contracts and routes from TOML, idempotently.

Every entry is keyed by its ``code``: importing the same file again updates rows and never duplicates them. A
contract's ``designations`` list is authoritative: people left out of it are undesignated (C-05). Errors name
the file, the entry and the field, and nothing is written when any file has an error.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import (
    Contract,
    Designation,
    DesignationRole,
    Party,
    PartyKind,
    Person,
    PersonRole,
    Program,
    Route,
    RouteTarget,
)
from ledger.models.base import Base, utcnow


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PartyEntry(Entry):
    name: str
    kind: PartyKind
    ip_allowlist: list[str] = []
    address: str | None = None


class PersonEntry(Entry):
    party: str
    name: str
    role: PersonRole
    email: str | None = None
    password_email: str | None = None
    section: str | None = None


class ProgramEntry(Entry):
    name: str
    section: str


class ApprovalEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str
    at: datetime
    ref: str
    revoked_at: datetime | None = None


class DesignationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str
    role: DesignationRole


class ContractEntry(Entry):
    name: str
    program: str
    party: str
    parent: str | None = None
    purpose: str = ""
    starts_on: date
    ends_on: date
    allowed_items: list[str]
    collected_items: list[str] = []
    channels: list[str] = []
    retention_days_after_receipt: int = Field(default=30, ge=0)
    retention_grace_days: int = Field(default=14, ge=0)
    password_delay_hours: int = Field(default=24, ge=0)
    download_limit: int = Field(default=3, ge=1)
    approval: ApprovalEntry | None = None
    sensitive_items_approval_ref: str | None = None
    designations: list[DesignationEntry] = []


class TargetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contract: str
    connector: str
    fallback: str | None = None
    password_channels: list[Literal["notice", "portal", "email"]] = ["portal"]
    drop_items: list[str] = []


class RouteEntry(Entry):
    name: str
    program: str
    watch_dir: Path
    quarantine_dir: Path | None = None
    processed_dir: Path | None = None
    force_polling: bool = False
    encoding: Literal["utf-8", "utf-8-sig", "cp932"] | None = None
    allowed_file_types: list[str] = ["csv", "xlsx"]
    targets: list[TargetEntry] = Field(min_length=1)


class ImportFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parties: list[PartyEntry] = []
    people: list[PersonEntry] = []
    programs: list[ProgramEntry] = []
    contracts: list[ContractEntry] = []
    routes: list[RouteEntry] = []


class ImportError_(Exception):
    """Problems found in import files; each line names file, entry and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        bucket = self.created if created else self.updated
        bucket[kind] = bucket.get(kind, 0) + 1


def _describe(path: Path, data: dict[str, Any], error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        where = ""
        if len(loc) >= 2 and isinstance(loc[1], int):
            section, index = str(loc[0]), loc[1]
            try:
                code = data[section][index].get("code", f"#{index + 1}")
            except (KeyError, IndexError, AttributeError):
                code = f"#{index + 1}"
            where = f"{section} '{code}'"
            loc = loc[2:]
        field_path = ".".join(str(part) for part in loc) or "(entry)"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{path}: {where or 'top level'}: {field_path}: {message}")
    return problems


def parse_files(paths: Sequence[Path]) -> list[tuple[Path, ImportFile]]:
    parsed: list[tuple[Path, ImportFile]] = []
    problems: list[str] = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            problems.append(f"{path}: cannot be read: {exc.strerror}")
            continue
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path}: not valid TOML: {exc}")
            continue
        try:
            parsed.append((path, ImportFile.model_validate(data)))
        except ValidationError as exc:
            problems.extend(_describe(path, data, exc))
    if problems:
        raise ImportError_(problems)
    return parsed


M = TypeVar("M", bound=Base)


class _Importer:
    def __init__(self, session: AsyncSession, base_dir: Path) -> None:
        self.session = session
        self.base_dir = base_dir
        self.summary = ImportSummary()
        self.problems: list[str] = []

    async def _get(self, model: type[M], code: str) -> M | None:
        return (
            await self.session.execute(select(model).where(model.code == code))  # type: ignore[attr-defined]
        ).scalar_one_or_none()

    async def _upsert(self, model: type[M], code: str, values: dict[str, Any], kind: str) -> M:
        row = await self._get(model, code)
        created = row is None
        if row is None:
            row = model(code=code)
            self.session.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        self.summary.count(kind, created)
        await self.session.flush()
        return row

    async def _ref(self, model: type[M], code: str, where: str) -> M | None:
        row = await self._get(model, code)
        if row is None:
            self.problems.append(f"{where}: refers to unknown {model.__tablename__} '{code}'")
        return row

    async def _absolute(self, path: Path) -> str:
        return str(path if path.is_absolute() else await asyncio.to_thread((self.base_dir / path).resolve))

    async def run(self, files: list[tuple[Path, ImportFile]]) -> None:
        # Kinds in dependency order across all files, so one file may refer to another's entries.
        for _path, data in files:
            for party in data.parties:
                await self._upsert(Party, party.code, party.model_dump(exclude={"code"}), "parties")
            for program in data.programs:
                await self._upsert(Program, program.code, program.model_dump(exclude={"code"}), "programs")
        for path, data in files:
            for person in data.people:
                owner = await self._ref(Party, person.party, f"{path}: people '{person.code}': party")
                if owner is not None:
                    values = person.model_dump(exclude={"code", "party"})
                    await self._upsert(Person, person.code, {**values, "party_id": owner.id}, "people")
        # Top-level contracts first: a sub-contract may name a parent defined anywhere in the files.
        contracts = [(path, c) for path, data in files for c in data.contracts]
        for path, contract in sorted(contracts, key=lambda item: item[1].parent is not None):
            await self._contract(path, contract)
        for path, data in files:
            for route in data.routes:
                await self._route(path, route)

    async def _contract(self, path: Path, entry: ContractEntry) -> None:
        where = f"{path}: contracts '{entry.code}'"
        program = await self._ref(Program, entry.program, f"{where}: program")
        party = await self._ref(Party, entry.party, f"{where}: party")
        parent = await self._ref(Contract, entry.parent, f"{where}: parent") if entry.parent else None
        if entry.ends_on < entry.starts_on:
            self.problems.append(f"{where}: ends_on: is before starts_on")
        if program is None or party is None or (entry.parent and parent is None):
            return
        approval = entry.approval
        values = entry.model_dump(exclude={"code", "program", "party", "parent", "approval", "designations"})
        values |= {
            "program_id": program.id,
            "party_id": party.id,
            "parent_id": parent.id if parent else None,
            "approved_by": approval.by if approval else None,
            "approved_at": approval.at if approval else None,
            "approval_ref": approval.ref if approval else None,
            "approval_revoked_at": approval.revoked_at if approval else None,
        }
        row = await self._upsert(Contract, entry.code, values, "contracts")
        await self._designations(where, row, entry.designations)

    async def _designations(self, where: str, contract: Contract, entries: list[DesignationEntry]) -> None:
        existing = {
            d.person_id: d
            for d in (
                await self.session.execute(select(Designation).where(Designation.contract_id == contract.id))
            ).scalars()
        }
        wanted: set[int] = set()
        for entry in entries:
            person = await self._ref(Person, entry.person, f"{where}: designations: person")
            if person is None:
                continue
            if person.party_id != contract.party_id:
                self.problems.append(
                    f"{where}: designations: person '{entry.person}' does not belong to the contract's party"
                )
                continue
            wanted.add(person.id)
            row = existing.get(person.id)
            if row is None:
                self.session.add(Designation(contract_id=contract.id, person_id=person.id, role=entry.role))
            else:
                row.role = entry.role
                row.revoked_at = None
        now = utcnow()
        for person_id, row in existing.items():
            if person_id not in wanted and row.revoked_at is None:
                row.revoked_at = now

    async def _route(self, path: Path, entry: RouteEntry) -> None:
        where = f"{path}: routes '{entry.code}'"
        program = await self._ref(Program, entry.program, f"{where}: program")
        if program is None:
            return
        quarantine = entry.quarantine_dir or entry.watch_dir.parent / f"{entry.watch_dir.name}.quarantine"
        values = {
            "name": entry.name,
            "program_id": program.id,
            "watch_dir": await self._absolute(entry.watch_dir),
            "quarantine_dir": await self._absolute(quarantine),
            "processed_dir": await self._absolute(entry.processed_dir) if entry.processed_dir else None,
            "force_polling": entry.force_polling,
            "encoding": entry.encoding,
            "allowed_file_types": entry.allowed_file_types,
        }
        route = await self._upsert(Route, entry.code, values, "routes")
        existing = {
            t.contract_id: t
            for t in (await self.session.execute(select(RouteTarget).where(RouteTarget.route_id == route.id))).scalars()
        }
        for target in entry.targets:
            contract = await self._ref(Contract, target.contract, f"{where}: targets: contract")
            if contract is None:
                continue
            if contract.program_id != program.id:
                self.problems.append(f"{where}: targets: contract '{target.contract}' belongs to another program")
                continue
            row = existing.pop(contract.id, None) or RouteTarget(route_id=route.id, contract_id=contract.id)
            row.connector = target.connector
            row.fallback_connector = target.fallback
            row.password_channels = list(target.password_channels)
            row.drop_items = list(target.drop_items)
            self.session.add(row)
        for stale in existing.values():
            await self.session.delete(stale)


async def import_files(session: AsyncSession, paths: Sequence[Path], *, base_dir: Path) -> ImportSummary:
    """Import all files inside the caller's transaction; raise ImportError_ on any problem.

    The caller rolls back on the exception, so nothing is half-written. Relative folder paths in routes are
    resolved against ``base_dir`` and stored absolute.
    """
    files = await asyncio.to_thread(parse_files, paths)
    importer = _Importer(session, base_dir)
    await importer.run(files)
    if importer.problems:
        raise ImportError_(importer.problems)
    return importer.summary
