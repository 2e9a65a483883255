"""``handover printing …``: print-log findings still waiting for a reason, the printer's deliveries of sealed notices
and their confirmation, and hand-overs made on paper or in person (C-17, C-03).

People are named by person code (C-05): the ward's side must be staff of the section owning the contract, the
contractor's side designated on it (``ledger.registers.handlers``). The list of findings as a document is
``handover report print``.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.cli.setup import CliState, with_sessions
from exchange.oversight import print_logs, printed_notices
from ledger.models.contracts import Contract
from ledger.registers import handlers
from ledger.wareki import format_jst, to_wareki


async def _contract(session: AsyncSession, code: str) -> Contract:
    contract = await session.scalar(select(Contract).where(Contract.code == code))
    if contract is None:
        raise printed_notices.PrintedMatterError(f"契約「{code}」は登録されていません。")
    return contract


def register(main: click.Group) -> None:
    @main.group("printing")
    def group() -> None:
        """Print logs, sealed-notice deliveries and paper hand-overs (C-17, C-03)."""

    @group.command("findings")
    @click.option("--contract", "contract_code", help="Contract code (default: every contract).")
    @click.pass_obj
    def findings(state: CliState, contract_code: str | None) -> None:
        """Print-log findings still waiting for the printer's reason."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
            async with sessions() as session:
                ids = [(await _contract(session, contract_code)).id] if contract_code else []
                return [
                    f"{finding.public_id}  {finding.contract.code}  {format_jst(finding.found_at)}  "
                    f"{print_logs.finding_text(finding)}"
                    for finding in await print_logs.open_findings(session, ids)
                ]

        for line in with_sessions(state, work) or ["理由の記入を待つ指摘事項はありません"]:
            click.echo(line)

    @group.command("deliveries")
    @click.argument("contract_code")
    @click.pass_obj
    def deliveries(state: CliState, contract_code: str) -> None:
        """The printer's deliveries of sealed notices for CONTRACT_CODE, and whether the ward confirmed them."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
            async with sessions() as session:
                contract = await _contract(session, contract_code)
                return [
                    f"{d.public_id}  {to_wareki(d.delivered_on)}  {d.content} {d.quantity:,}通  {d.delivered_by}  "
                    + (f"確認済み（{d.confirmed_by}）" if d.confirmed_at else "確認待ち")
                    for d in await printed_notices.deliveries(session, contract)
                ]

        for line in with_sessions(state, work) or ["納品の記録はありません"]:
            click.echo(line)

    @group.command("confirm")
    @click.argument("delivery_id")
    @click.option("--by", "staff_code", required=True, help="Person code of the staff member who checked it.")
    @click.option("--quantity", type=click.IntRange(1), help="The count found, when it differs from the record.")
    @click.pass_obj
    def confirm(state: CliState, delivery_id: str, staff_code: str, quantity: int | None) -> None:
        """Confirm a delivery of sealed notices (a register line, 区分「納品」)."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
            async with sessions.begin() as session:
                delivery = await printed_notices.delivery_of(session, delivery_id)
                contract = await session.get(Contract, delivery.contract_id)
                assert contract is not None  # enforced by the foreign key
                staff = await handlers.ward_staff(session, contract, staff_code)
                await printed_notices.confirm_delivery(session, delivery, confirmed_by=staff.label, quantity=quantity)
                return f"{contract.code}: 納品を確認しました（{delivery.confirmed_quantity:,}通、{staff.label}）"

        click.echo(with_sessions(state, work))

    @group.command("paper")
    @click.argument("contract_code")
    @click.option(
        "--direction",
        type=click.Choice([d.value for d in printed_notices.Direction]),
        required=True,
        help="to_contractor: the ward gave it (提供); from_contractor: the ward received it (受領).",
    )
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member.")
    @click.option("--counterpart", required=True, help="Person code of the contractor's designated person.")
    @click.option("--date", "handed_on", type=click.DateTime(["%Y-%m-%d"]), required=True, help="YYYY-MM-DD.")
    @click.option("--content", required=True, help="What was handed over (no personal data), e.g. 訪問調査票.")
    @click.option("--quantity", type=click.IntRange(1), required=True)
    @click.option("--channel", type=click.Choice(list(printed_notices.CHANNELS)), default="paper", show_default=True)
    @click.pass_obj
    def paper(
        state: CliState,
        contract_code: str,
        direction: str,
        staff_code: str,
        counterpart: str,
        handed_on: datetime,
        content: str,
        quantity: int,
        channel: str,
    ) -> None:
        """Record a hand-over made on paper or in person for CONTRACT_CODE (a register line)."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
            async with sessions.begin() as session:
                contract = await _contract(session, contract_code)
                staff = await handlers.ward_staff(session, contract, staff_code)
                other = await handlers.designated(session, contract, counterpart)
                await printed_notices.record_paper_handover(
                    session,
                    contract,
                    printed_notices.PaperHandover(
                        direction=printed_notices.Direction(direction),
                        handed_on=handed_on.date(),
                        staff=staff.label,
                        counterpart=other.label,
                        content=content,
                        quantity=quantity,
                        channel=channel,
                    ),
                )
                return f"{contract.code}: 受渡しを記録しました（管理簿に記載）"

        click.echo(with_sessions(state, work))
