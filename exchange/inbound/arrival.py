"""What the hub makes of one sealed, virus-free upload before it is kept: its status, reason, records, findings.

Tables of the kinds the contract's items govern (``rules.TABULAR_CHECKED``) are read back from the sealed file
into memory and checked (``checks.check_table``), then by the program's plugins against the contract's reference
data (``check_returned_records``; S1's application-type check against the welfare-system extract, see
``exchange.inbound.reference``). Everything else (scans, PDFs, print logs) is kept as received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import sensitive_approvals
from exchange.inbound import reference
from exchange.inbound import uploads as inbound
from exchange.inbound.checks import RecordCheck, Verdict, check_table
from exchange.inbound.rules import TABULAR_CHECKED
from exchange.web.context import PortalDeps
from ledger.models.contracts import Contract, Program
from ledger.registers.handover import RegisterEntry
from policies.errors import PolicyRefusal
from policies.hookspecs import Record, RecordProblem
from policies.screening import ScreeningPolicy


@dataclass(frozen=True)
class Arrival:
    kind: str
    stored: inbound.Stored
    records: int | None = None
    reason_ja: str | None = None
    findings: tuple[str, ...] = ()

    def register_entry(self, contract_id: str, person_name: str) -> RegisterEntry:
        if self.reason_ja:
            return inbound.quarantined_entry(
                contract_id, person_name, self.kind, self.stored, self.reason_ja, self.records
            )
        return inbound.received_entry(contract_id, person_name, self.kind, self.stored, self.records, self.findings)


def _shown(problem: RecordProblem) -> str:
    where = f"{problem.record}件目" if problem.record else ""
    column = f"「{problem.column}」" if problem.column else ""
    return f"{where}{column}{'：' if where or column else ''}{problem.message}"


async def _record_check(session: AsyncSession, deps: PortalDeps, contract: Contract, kind: str) -> RecordCheck | None:
    """The program plugins' check of returned records (S1 申請型), with the contract's reference data."""
    if deps.plugins is None or deps.blobs is None or deps.keyring is None:
        return None
    program = await session.get(Program, contract.program_id)
    assert program is not None  # enforced by the foreign key
    hooks = deps.plugins.for_program(program.code)
    reference_records = await reference.load(deps.blobs, deps.keyring, contract)

    def check(columns: tuple[str, ...], records: Sequence[Record]) -> list[str]:
        try:
            problems = hooks.check_returned_records(kind, columns, records, reference_records)
        except PolicyRefusal as refusal:  # the reference on file no longer fits the plugin
            return [f"照合用データを使えないため照合できませんでした（{refusal.reason}）。"]
        return [_shown(problem) for problem in problems]

    return check


async def examine(
    session: AsyncSession, deps: PortalDeps, contract: Contract, kind: str, stored: inbound.Stored
) -> Arrival:
    if kind not in TABULAR_CHECKED:
        return Arrival(kind, stored)
    assert deps.blobs is not None and deps.keyring is not None
    content = b"".join([chunk async for chunk in inbound.read_stored(deps.blobs, deps.keyring, stored)])
    record_check = await _record_check(session, deps, contract, kind)
    # C-07: the default categories, less the items the ward approved for this contract (the same approvals that
    # let such an item be delivered let the contractor send it back).
    screening = ScreeningPolicy(approvals=await sensitive_approvals.screening_approvals(session, contract))
    verdict: Verdict = await asyncio.to_thread(
        check_table, content, stored.name, list(contract.collected_items), screening, record_check
    )
    reason = "\n".join(verdict.problems) or None
    return Arrival(kind, stored, verdict.records, reason, verdict.findings)
