"""``handover subcontracts …``: record, show and revoke the ward's approval of a sub-contract (C-06).

The member of staff who records or revokes is named by person code and must belong to the section owning the
contract (C-05). Dates and times are typed and shown in Japan time whatever the server's zone (``ledger.wareki``).
"""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap, subcontracts
from exchange.cli.setup import CliState, fail, run
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.registers import handlers
from ledger.wareki import JstParseError, format_jst, parse_jst


async def _contract(session: AsyncSession, code: str) -> Contract:
    contract = (await session.execute(select(Contract).where(Contract.code == code))).scalar_one_or_none()
    if contract is None:
        raise subcontracts.ApprovalError(f"契約「{code}」は登録されていません。")
    return contract


def register(main: click.Group) -> None:
    @main.group("subcontracts")
    def group() -> None:
        """Sub-contract approvals (再委託の承諾): record, show, revoke."""

    @group.command("approve")
    @click.argument("contract_code")
    @click.option("--approver", required=True, help="Who approved, as on the document (e.g. 生活福祉課長 区役 太郎).")
    @click.option("--ref", "reference", required=True, help="The approval document's number.")
    @click.option("--at", "approved_at", required=True, help="When it was approved, Japan time: YYYY-MM-DD HH:MM.")
    @click.option("--by", "staff_code", required=True, help="Person code of the staff member recording it.")
    @click.pass_obj
    def approve(
        state: CliState, contract_code: str, approver: str, reference: str, approved_at: str, staff_code: str
    ) -> None:
        """Record the ward's written approval of the sub-contract CONTRACT_CODE."""
        try:
            moment = parse_jst(approved_at)
        except JstParseError as exc:
            fail(str(exc))

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                await subcontracts.approve(
                    session, contract, approved_by=approver, approved_at=moment, reference=reference, recorded_by=staff
                )
                return f"{contract.code}: 承諾を記録しました（{reference}、{format_jst(moment)} 日本時間）"

        try:
            click.echo(run(go()))
        except (subcontracts.ApprovalError, handlers.NotAllowedHandler) as exc:
            fail(str(exc))

    @group.command("revoke")
    @click.argument("contract_code")
    @click.option("--by", "staff_code", required=True, help="Person code of the staff member revoking it.")
    @click.option("--reason", required=True, help="Why the approval is revoked (kept in the register).")
    @click.pass_obj
    def revoke(state: CliState, contract_code: str, staff_code: str, reason: str) -> None:
        """Revoke the approval of CONTRACT_CODE now: no data goes to the sub-contractor after it."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                now = utcnow()
                await subcontracts.revoke(session, contract, by=staff, reason=reason.strip(), at=now)
                return f"{contract.code}: 承諾を取り消しました（{format_jst(now)} 日本時間）"

        try:
            click.echo(run(go()))
        except (subcontracts.ApprovalError, handlers.NotAllowedHandler) as exc:
            fail(str(exc))

    @group.command("show")
    @click.argument("contract_code")
    @click.pass_obj
    def show(state: CliState, contract_code: str) -> None:
        """The approval of CONTRACT_CODE, in Japan time."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                contract = await _contract(session, contract_code)
                if contract.approved_at is None:
                    return f"{contract.code}: 承諾の記録はありません"
                line = (
                    f"{contract.code}: 承諾 {contract.approved_by}（{contract.approval_ref}）"
                    f" {format_jst(contract.approved_at)} 日本時間"
                )
                if contract.approval_revoked_at is not None:
                    line += f"、取消し {format_jst(contract.approval_revoked_at)} 日本時間"
                return line

        try:
            click.echo(run(go()))
        except subcontracts.ApprovalError as exc:
            fail(str(exc))
