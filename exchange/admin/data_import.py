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

from exchange.admin import sensitive_approvals
from exchange.admin.subcontracts import describe_outside, items_outside_parent
from exchange.folders import stored_folder
from exchange.inbound.rules import DEFAULT_SUFFIXES, normalise_suffix
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
from ledger.models.return_folders import ReturnFolder
from ledger.wareki import parse_jst
from policies.pluginmanager import HandoverPlugins
from policies.screening import ScreeningApproval


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


class SensitiveApprovalEntry(BaseModel):
    """The ward's written approval for forbidden-category items (C-07), as the approval document states it."""

    model_config = ConfigDict(extra="forbid")
    ref: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    on: date
    items: list[str] = Field(min_length=1)


class DesignationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str
    role: DesignationRole


class UploadRulesEntry(BaseModel):
    """``[contracts.uploads]``: what the contractor may upload (``exchange.inbound.rules``); a contract without
    it accepts every kind with its default suffixes up to the portal's limit."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[str] = Field(min_length=1)
    # Per kind, a narrower list of suffixes than the kind's defaults (e.g. evidence_scan = ["pdf"]).
    suffixes: dict[str, list[str]] = {}
    max_mb: int | None = Field(default=None, ge=1)


class ContractEntry(Entry):
    name: str
    program: str
    party: str
    parent: str | None = None
    purpose: str = ""
    starts_on: date
    ends_on: date
    # Omitted: the program's plugin default for the party's kind (the import reports the list it used).
    allowed_items: list[str] | None = None
    collected_items: list[str] = []
    channels: list[str] = []
    retention_days_after_receipt: int = Field(default=30, ge=0)
    retention_grace_days: int = Field(default=14, ge=0)
    password_delay_hours: int = Field(default=24, ge=0)
    # Required when password_delay_hours is 0: a password with no wait must be the ward's recorded choice.
    password_delay_zero_reason: str | None = None
    download_limit: int = Field(default=3, ge=1)
    download_limit_per_handler: int | None = Field(default=None, ge=1)
    approval: ApprovalEntry | None = None
    sensitive_approvals: list[SensitiveApprovalEntry] = []
    designations: list[DesignationEntry] = []
    uploads: UploadRulesEntry | None = None


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
    scan_values: bool = False
    targets: list[TargetEntry] = Field(min_length=1)


class ReturnFolderEntry(Entry):
    """A folder on the ward's intranet that receives returns as AES ZIPs: for one ``contract`` or a ``section``."""

    path: Path
    contract: str | None = None
    section: str | None = None
    # Never the folder itself: the password of a ZIP there goes by the portal's page or a printed notice (C-02).
    password_channels: list[Literal["notice", "portal"]] = Field(default=["portal", "notice"], min_length=1)


class ImportFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parties: list[PartyEntry] = []
    people: list[PersonEntry] = []
    programs: list[ProgramEntry] = []
    contracts: list[ContractEntry] = []
    routes: list[RouteEntry] = []
    return_folders: list[ReturnFolderEntry] = []


def _upload_rules(where: str, entry: UploadRulesEntry | None, problems: list[str]) -> dict[str, object] | None:
    """The stored form of ``[contracts.uploads]``; a kind or suffix the hub does not know is a problem."""
    if entry is None:
        return None
    kinds: dict[str, list[str]] = {}
    for kind in entry.kinds:
        if kind not in DEFAULT_SUFFIXES:
            problems.append(f"{where}: uploads.kinds: unknown kind {kind!r} (known: {', '.join(DEFAULT_SUFFIXES)})")
            continue
        kinds[kind] = list(DEFAULT_SUFFIXES[kind])
    for kind, listed in entry.suffixes.items():
        if kind not in kinds:
            problems.append(f"{where}: uploads.suffixes.{kind}: the kind is not in uploads.kinds")
            continue
        chosen = [normalise_suffix(suffix) for suffix in listed]
        if unknown := [suffix for suffix in chosen if suffix not in DEFAULT_SUFFIXES[kind]]:
            problems.append(
                f"{where}: uploads.suffixes.{kind}: {', '.join(unknown)} not accepted for this kind "
                f"(choose from {', '.join(DEFAULT_SUFFIXES[kind])})"
            )
        kinds[kind] = chosen
    return {"kinds": kinds, "max_mb": entry.max_mb}


class ImportError_(Exception):
    """Problems found in import files; each line names file, entry and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # Japanese lines for the person importing: what the import decided that the files did not say.
    notes: list[str] = field(default_factory=list)

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
    def __init__(self, session: AsyncSession, base_dir: Path, plugins: HandoverPlugins) -> None:
        self.session = session
        self.base_dir = base_dir
        self.plugins = plugins
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

    async def _stored(self, path: Path) -> str:
        """A folder as the database keeps it: relative to ``base_dir`` (the data directory) when under it."""
        base = await asyncio.to_thread(self.base_dir.resolve)
        return stored_folder(path if path.is_absolute() else await asyncio.to_thread((base / path).resolve), base)

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
            for folder in data.return_folders:
                await self._return_folder(path, folder)

    async def _contract(self, path: Path, entry: ContractEntry) -> None:
        where = f"{path}: contracts '{entry.code}'"
        program = await self._ref(Program, entry.program, f"{where}: program")
        party = await self._ref(Party, entry.party, f"{where}: party")
        parent = await self._ref(Contract, entry.parent, f"{where}: parent") if entry.parent else None
        if entry.ends_on < entry.starts_on:
            self.problems.append(f"{where}: ends_on: is before starts_on")
        if entry.password_delay_hours == 0 and not (entry.password_delay_zero_reason or "").strip():
            self.problems.append(
                f"{where}: password_delay_hours: 0（待機なし）とする場合は、その理由を "
                "password_delay_zero_reason に記載してください。"
            )
            return
        if entry.download_limit_per_handler is not None and entry.download_limit_per_handler > entry.download_limit:
            self.problems.append(
                f"{where}: download_limit_per_handler: 取扱者ごとの上限（{entry.download_limit_per_handler}回）が"
                f"データごとの上限 download_limit（{entry.download_limit}回）を超えています。"
            )
            return
        if program is None or party is None or (entry.parent and parent is None):
            return
        items = entry.allowed_items
        if items is None:
            items = self._default_items(where, entry, program, party)
            if items is None:
                return
        if parent is not None:
            # C-06: a sub-contractor receives at most what its parent contract receives.
            outside = items_outside_parent(items, parent.allowed_items)
            if outside:
                self.problems.append(f"{where}: allowed_items: {describe_outside(entry.name, parent.name, outside)}")
                return
        if not await self._sensitive_items_approved(where, entry, items):
            return
        upload_rules = _upload_rules(where, entry.uploads, self.problems)
        approval = entry.approval
        values = entry.model_dump(
            exclude={"code", "program", "party", "parent", "approval", "designations", "uploads", "sensitive_approvals"}
        )
        values |= {
            "upload_rules": upload_rules,
            # The reason is kept only for the choice it explains.
            "password_delay_zero_reason": entry.password_delay_zero_reason if entry.password_delay_hours == 0 else None,
            "program_id": program.id,
            "party_id": party.id,
            "parent_id": parent.id if parent else None,
            "allowed_items": list(items),
            "approved_by": approval.by if approval else None,
            # A TOML time without an offset is Japan time, like every time a person types (never the host's zone).
            "approved_at": parse_jst(approval.at) if approval else None,
            "approval_ref": approval.ref if approval else None,
            "approval_revoked_at": parse_jst(approval.revoked_at) if approval and approval.revoked_at else None,
        }
        row = await self._upsert(Contract, entry.code, values, "contracts")
        await self._designations(where, row, entry.designations)
        await self._record_sensitive_approvals(path, row, entry.sensitive_approvals)

    async def _sensitive_items_approved(self, where: str, entry: ContractEntry, items: list[str]) -> bool:
        """C-07: a contract's items may include a forbidden category only under the ward's approval, named in the
        file or already recorded on the contract; otherwise the contract is refused, saying how to approve."""
        stated = [ScreeningApproval(a.ref, a.approver, a.on, frozenset(a.items)) for a in entry.sensitive_approvals]
        existing = (
            await self.session.execute(select(Contract).where(Contract.code == entry.code))
        ).scalar_one_or_none()
        recorded = (
            [
                ScreeningApproval(a.document_ref, a.approver, a.approved_on, frozenset(a.items))
                for a in await sensitive_approvals.approvals_of(self.session, existing)
            ]
            if existing is not None
            else []
        )
        missing = sensitive_approvals.unapproved(items, [*stated, *recorded])
        if missing:
            self.problems.append(
                f"{where}: allowed_items: {sensitive_approvals.describe_unapproved(entry.name, missing)}"
            )
            return False
        return True

    async def _record_sensitive_approvals(
        self, path: Path, contract: Contract, entries: list[SensitiveApprovalEntry]
    ) -> None:
        """Record each approval the file names once: importing the same file again adds nothing."""
        recorded = {
            (a.document_ref, tuple(a.items)) for a in await sensitive_approvals.approvals_of(self.session, contract)
        }
        for entry in entries:
            if (entry.ref, tuple(entry.items)) in recorded:
                continue
            try:
                await sensitive_approvals.approve(
                    self.session,
                    contract,
                    items=entry.items,
                    document_ref=entry.ref,
                    approver=entry.approver,
                    approved_on=entry.on,
                    recorded_by=f"取込みファイル {path.name}",
                )
            except sensitive_approvals.SensitiveApprovalError as exc:
                self.problems.append(f"{path}: contracts '{contract.code}': sensitive_approvals: {exc}")

    def _default_items(self, where: str, entry: ContractEntry, program: Program, party: Party) -> list[str] | None:
        """The program plugin's item list for the party's kind, reported to the importer; None when none."""
        items = self.plugins.for_program(program.code).default_items(party.kind.value)
        if not items:
            self.problems.append(
                f"{where}: allowed_items: 提供項目が指定されておらず、業務「{program.name}」のプラグインにも"
                f"{party.kind.value} 向けの既定の提供項目がありません。allowed_items を記載してください。"
            )
            return None
        self.summary.notes.append(
            f"契約 '{entry.code}'（{entry.name}）: allowed_items の指定がないため、業務「{program.name}」の"
            f"既定の提供項目を設定しました: {'、'.join(items)}"
        )
        return list(items)

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

    async def _return_folder(self, path: Path, entry: ReturnFolderEntry) -> None:
        where = f"{path}: return_folders '{entry.code}'"
        if (entry.contract is None) == (entry.section is None):
            self.problems.append(
                f"{where}: contract, section: 契約（contract）か課（section）のどちらか一方を指定してください。"
            )
            return
        contract = await self._ref(Contract, entry.contract, f"{where}: contract") if entry.contract else None
        if entry.contract and contract is None:
            return
        values = {
            "path": await self._stored(entry.path),
            "contract_id": contract.id if contract is not None else None,
            "section": entry.section,
            "password_channels": list(entry.password_channels),
        }
        await self._upsert(ReturnFolder, entry.code, values, "return_folders")

    async def _route(self, path: Path, entry: RouteEntry) -> None:
        where = f"{path}: routes '{entry.code}'"
        program = await self._ref(Program, entry.program, f"{where}: program")
        if program is None:
            return
        quarantine = entry.quarantine_dir or entry.watch_dir.parent / f"{entry.watch_dir.name}.quarantine"
        values = {
            "name": entry.name,
            "program_id": program.id,
            "watch_dir": await self._stored(entry.watch_dir),
            "quarantine_dir": await self._stored(quarantine),
            "processed_dir": await self._stored(entry.processed_dir) if entry.processed_dir else None,
            "force_polling": entry.force_polling,
            "encoding": entry.encoding,
            "allowed_file_types": entry.allowed_file_types,
            "scan_values": entry.scan_values,
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


async def import_files(
    session: AsyncSession, paths: Sequence[Path], *, base_dir: Path, plugins: HandoverPlugins
) -> ImportSummary:
    """Import all files inside the caller's transaction; raise ImportError_ on any problem.

    The caller rolls back on the exception, so nothing is half-written. Relative folder paths in routes and
    return folders are resolved against ``base_dir`` (the data directory, absolute); a folder under it is stored
    relative to it (``exchange.folders``), so a restored copy of the hub never watches the original's folders.
    ``plugins`` give the default item list of a contract that has none (``default_items``).
    """
    files = await asyncio.to_thread(parse_files, paths)
    importer = _Importer(session, base_dir, plugins)
    await importer.run(files)
    if importer.problems:
        raise ImportError_(importer.problems)
    return importer.summary
