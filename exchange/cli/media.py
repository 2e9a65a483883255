"""``handover media …``: seal the DVD staged for a contract, hand it over, take it back (C-21).

People are named by person code, never by free text (C-05): the ward's side must be staff of the section that
owns the contract, the contractor's side designated on the contract; ``ledger.registers.media`` checks both.
"""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import select

from connectors.media import MediaConnector
from exchange import hub
from exchange.cli.setup import CliState, fail, run
from ledger.models import Contract
from ledger.models.base import utcnow
from ledger.registers import media as media_register
from ledger.wareki import jst_date, to_wareki


def register(main: click.Group) -> None:
    @main.group("media")
    def media() -> None:
        """DVD media: the fallback channel, with the same protections (C-21)."""

    @media.command("finalize")
    @click.argument("contract_code")
    @click.option("--connector", "connector_name", default="dvd", show_default=True)
    @click.option("--by", "prepared_by", required=True, help="Person code of the ward staff member preparing the disc.")
    @click.pass_obj
    def finalize(state: CliState, contract_code: str, connector_name: str, prepared_by: str) -> None:
        """Seal the packages staged for CONTRACT_CODE into an ISO image with a media id and a label."""

        async def go() -> str:
            async with hub.services(state.settings) as services:
                connector = services.connectors.get(connector_name)
                if not isinstance(connector, MediaConnector):
                    fail(f"{connector_name} is not a media connector")
                async with services.sessions.begin() as session:
                    contract = (
                        await session.execute(select(Contract).where(Contract.code == contract_code))
                    ).scalar_one_or_none()
                    if contract is None:
                        fail(f"no contract {contract_code}")
                    # The preparer is checked before the image is burned, so a refused name leaves nothing behind.
                    await media_register.check_staff(session, contract, prepared_by)
                    medium = await connector.finalize_medium(contract.code, contract_name=contract.name)
                    await media_register.register_medium(session, contract, medium, prepared_by=prepared_by)
                    return (
                        f"medium {medium.media_id}: {len(medium.files)} package(s), image {medium.image_path}, "
                        f"label {medium.label_path} (burn the image; the label carries no password)"
                    )

        try:
            click.echo(run(go()))
        except media_register.MediaRegisterError as exc:
            fail(str(exc))

    @media.command("handover")
    @click.argument("media_id")
    @click.option("--by", "handed_by", required=True, help="Person code of the ward staff member handing it over.")
    @click.option("--to", "handed_to", required=True, help="Person code of the designated handler receiving it.")
    @click.option("--due", "due_back_on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.pass_obj
    def handover(state: CliState, media_id: str, handed_by: str, handed_to: str, due_back_on: datetime) -> None:
        """Record that the disc left the ward, to whom, and when it must come back."""
        due = due_back_on.date()

        async def go() -> None:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                medium = await media_register.get_medium(session, media_id)
                await media_register.hand_over(
                    session, medium, handed_by=handed_by, handed_to=handed_to, due_back_on=due
                )

        try:
            run(go())
        except media_register.MediaRegisterError as exc:
            fail(str(exc))
        click.echo(f"{media_id} handed over; due back {to_wareki(due)}")

    @media.command("return")
    @click.argument("media_id")
    @click.option("--by", "returned_by", required=True, help="Person code of the designated person bringing it back.")
    @click.option("--received-by", "received_by", required=True, help="Person code of the staff member receiving it.")
    @click.pass_obj
    def return_(state: CliState, media_id: str, returned_by: str, received_by: str) -> None:
        """Record the disc's return."""

        async def go() -> None:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                medium = await media_register.get_medium(session, media_id)
                await media_register.record_return(session, medium, returned_by=returned_by, received_by=received_by)

        try:
            run(go())
        except media_register.MediaRegisterError as exc:
            fail(str(exc))
        click.echo(f"{media_id} returned")

    @media.command("overdue")
    @click.pass_obj
    def overdue(state: CliState) -> None:
        """Media handed over and not back by their due date."""

        async def go() -> list[str]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                rows = await media_register.overdue_returns(session, jst_date(utcnow()))
                return [f"{m.media_id}  {m.contract.name}  due {m.due_back_on}" for m in rows]

        for line in run(go()) or ["no overdue media"]:
            click.echo(line)
