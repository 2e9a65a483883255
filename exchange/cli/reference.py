"""``handover reference load|remove``: the ward's reference data for checking what contractors return.

S1's application-type check (申請型) compares entered applications with the welfare-system extract; the hub
cannot rebuild that from delivered packages (``exchange.inbound.reference`` explains why), so staff of the
section that owns the contract register it here. It is sealed at rest; each change leaves a register line
naming the staff member.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange import hub
from exchange.cli.setup import CliState, fail, run
from exchange.inbound import reference
from ledger.models import Contract, Program
from ledger.registers import handlers
from ledger.registers.handover import record
from policies.errors import PolicyRefusal


def register(main: click.Group) -> None:
    @main.group("reference")
    def reference_group() -> None:
        """照合用データ: reference data (S1: the welfare-system extract) that returned data is checked against."""

    @reference_group.command("load")
    @click.argument("contract_code")
    @click.argument("source", type=click.Path(path_type=Path, dir_okay=False, exists=True))
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member loading it.")
    @click.pass_obj
    def load(state: CliState, contract_code: str, source: Path, staff_code: str) -> None:
        """Register SOURCE (CSV or XLSX) as CONTRACT_CODE's reference, sealed; replaces an earlier one."""

        async def go() -> str:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                kind, content = await asyncio.to_thread(reference.read_source, source)
                header, records = await asyncio.to_thread(reference.records_of, content, kind)
                program = await session.get(Program, contract.program_id)
                assert program is not None
                # The program's plugin refuses a reference it could not check against (the wrong columns).
                hooks = services.plugins.for_program(program.code)
                await asyncio.to_thread(hooks.check_returned_records, "", header, [], records)
                await reference.store(services.blobs, services.keyring.current, contract, kind, content)
                await record(session, reference.register_entry(contract, staff.label, len(records)))
                return f"照合用データを登録しました: {contract.name}（{len(records)}件、暗号化して保管）"

        try:
            click.echo(run(go()))
        except (handlers.NotAllowedHandler, ValueError) as exc:
            fail(str(exc))
        except PolicyRefusal as refusal:
            fail(refusal.reason)

    @reference_group.command("remove")
    @click.argument("contract_code")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member removing it.")
    @click.pass_obj
    def remove(state: CliState, contract_code: str, staff_code: str) -> None:
        """Delete CONTRACT_CODE's reference (crypto-erase): returned data is then reported as not checked."""

        async def go() -> str:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                if not await reference.remove(services.blobs, contract):
                    fail(f"契約「{contract.name}」に照合用データは登録されていません。")
                await record(session, reference.register_entry(contract, staff.label, None))
                return f"照合用データを削除しました: {contract.name}"

        try:
            click.echo(run(go()))
        except handlers.NotAllowedHandler as exc:
            fail(str(exc))


async def _contract(session: AsyncSession, code: str) -> Contract:
    contract = (await session.execute(select(Contract).where(Contract.code == code))).scalar_one_or_none()
    if contract is None:
        fail(f"契約 {code} が見つかりません。")
    return contract
