"""``handover sensitive …``: the ward's approvals for items in a forbidden category (C-07, 特記事項5).

The member of staff who records an approval is named by person code and must belong to the section owning the
contract (C-05), as on the staff page.
"""

from __future__ import annotations

from datetime import date

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap, sensitive_approvals
from exchange.cli.setup import CliState, fail, run
from ledger.models.contracts import Contract
from ledger.registers import handlers
from ledger.wareki import to_wareki


async def _contract(session: AsyncSession, code: str) -> Contract:
    contract = (await session.execute(select(Contract).where(Contract.code == code))).scalar_one_or_none()
    if contract is None:
        raise sensitive_approvals.SensitiveApprovalError(f"契約「{code}」は登録されていません。")
    return contract


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"承諾日「{value}」を読み取れません。YYYY-MM-DD の形で入力してください（例: 2026-04-01）。")


def register(main: click.Group) -> None:
    @main.group("sensitive")
    def group() -> None:
        """Approvals for forbidden-category items (要配慮項目の承諾): record, list."""

    @group.command("approve")
    @click.argument("contract_code")
    @click.option("--items", required=True, help="The approved items (column names), separated by commas: 宗教,前科")
    @click.option("--ref", "reference", required=True, help="The approval document's number.")
    @click.option("--approver", required=True, help="Who approved, as on the document (e.g. 生活福祉課長 区役 太郎).")
    @click.option("--on", "approved_on", required=True, help="The approval's date: YYYY-MM-DD.")
    @click.option("--by", "staff_code", required=True, help="Person code of the staff member recording it.")
    @click.pass_obj
    def approve(
        state: CliState,
        contract_code: str,
        items: str,
        reference: str,
        approver: str,
        approved_on: str,
        staff_code: str,
    ) -> None:
        """Record the ward's approval for forbidden-category ITEMS on the contract CONTRACT_CODE."""
        day = _date(approved_on)
        names = [item for item in items.replace("、", ",").split(",")]

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                row = await sensitive_approvals.approve(
                    session,
                    contract,
                    items=names,
                    document_ref=reference,
                    approver=approver,
                    approved_on=day,
                    recorded_by=staff,
                )
                return f"{contract.code}: 要配慮項目の承諾を記録しました（{'、'.join(row.items)}／{row.document_ref}）"

        try:
            click.echo(run(go()))
        except (sensitive_approvals.SensitiveApprovalError, handlers.NotAllowedHandler) as exc:
            fail(str(exc))

    @group.command("list")
    @click.argument("contract_code")
    @click.pass_obj
    def list_approvals(state: CliState, contract_code: str) -> None:
        """The approvals recorded on CONTRACT_CODE, oldest first."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                contract = await _contract(session, contract_code)
                rows = await sensitive_approvals.approvals_of(session, contract)
                if not rows:
                    return f"{contract.code}: 要配慮項目の承諾の記録はありません"
                return "\n".join(
                    f"{row.document_ref}\t{to_wareki(row.approved_on)}\t{row.approver}\t{'、'.join(row.items)}"
                    f"\t記録: {row.recorded_by}"
                    for row in rows
                )

        try:
            click.echo(run(go()))
        except sensitive_approvals.SensitiveApprovalError as exc:
            fail(str(exc))
