"""``handover password …``: a package's password on its own occasion, only when the split-password rule allows it.

The printed notice (パスワード通知書) and the e-mail to the person's separate password address; a printed notice
is expected back after the work (C-04), and ``notice-returned`` records its return.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from exchange import hub
from exchange.cli.setup import CliState, fail, find_package, find_person, run
from exchange.duties.mail import SmtpMailer
from exchange.passwords import email_channel as password_email
from exchange.passwords.printed_notice import PasswordNotice, render_password_notice
from exchange.passwords.release import PasswordChannel, PasswordRefused, release
from exchange.retention import returns
from ledger.files import write_atomic
from ledger.models import Party, PartyKind
from ledger.models.base import utcnow
from ledger.models.retention import ExpectedReturn, ReturnKind
from ledger.registers import handlers
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import jst_date


async def _ward_name(session: AsyncSession) -> str:
    ward = (await session.execute(select(Party).where(Party.kind == PartyKind.WARD).limit(1))).scalar_one_or_none()
    return ward.name if ward is not None else ""


def register(main: click.Group) -> None:
    @main.group("password")
    def password() -> None:
        """Package passwords, released only under the split-password rule."""

    @password.command("notice-returned")
    @click.argument("package_id")
    @click.option(
        "--received-by",
        "received_by",
        required=True,
        help="Person code of the ward staff member (owning section) who took it back.",
    )
    @click.pass_obj
    def notice_returned(state: CliState, package_id: str, received_by: str) -> None:
        """Record that a printed password notice came back after the work (C-04)."""

        async def go() -> int:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                package = await find_package(session, package_id)
                try:
                    staff = await handlers.ward_staff(session, package.contract, received_by)
                except handlers.NotAllowedHandler as refused:
                    fail(str(refused))
                items = (
                    await session.execute(
                        select(ExpectedReturn).where(
                            ExpectedReturn.package_id == package.id,
                            ExpectedReturn.kind == ReturnKind.PASSWORD_NOTICE,
                            ExpectedReturn.returned_at.is_(None),
                        )
                    )
                ).scalars()
                count = 0
                for item in items:
                    await returns.record_return(session, item, received_by=staff.label, at=utcnow())
                    count += 1
                return count

        count = run(go())
        if count == 0:
            fail("no printed notice of this package is waiting to come back")
        click.echo(f"{count} notice(s) recorded as returned")

    @password.command("email")
    @click.argument("package_id")
    @click.option("--to", "person_code", required=True, help="The designated person to e-mail.")
    @click.pass_obj
    def email(state: CliState, package_id: str, person_code: str) -> None:
        """E-mail the password alone to the person's separate password address, if the rule allows it now."""
        smtp = state.settings.smtp
        if smtp is None:
            fail("no [smtp] section in the configuration")

        async def go() -> str:
            async with hub.services(state.settings) as services, services.sessions() as session:
                package = await find_package(session, package_id)
                person = await find_person(session, person_code)
                if not person.password_email:
                    fail(f"{person.name} has no password_email address on record")
                try:
                    released = await release(
                        session,
                        package,
                        person,
                        PasswordChannel.EMAIL,
                        keyring=services.keyring,
                        connector_kinds=services.connector_kinds,
                    )
                except PasswordRefused as refused:
                    await session.commit()
                    fail(f"refused: {refused.decision.reason_ja}")
                await password_email.send_password(released, SmtpMailer(smtp), await _ward_name(session))
                await session.commit()
                return person.password_email

        click.echo(f"password e-mailed to {run(go())}")

    @password.command("notice")
    @click.argument("package_id")
    @click.option(
        "--to", "person_code", required=True, help="Person code of the designated person the notice is addressed to."
    )
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member handing it over.")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def notice(state: CliState, package_id: str, person_code: str, staff_code: str, out: Path) -> None:
        """Print the password notice (パスワード通知書) as a PDF, if the rule allows it now."""

        async def go() -> PasswordNotice:
            async with hub.services(state.settings) as services, services.sessions() as session:
                package = await find_package(session, package_id)
                try:
                    to = await handlers.designated(session, package.contract, person_code)
                    by = await handlers.ward_staff(session, package.contract, staff_code)
                except handlers.NotAllowedHandler as refused:
                    fail(str(refused))
                person = await find_person(session, person_code)
                try:
                    released = await release(
                        session,
                        package,
                        person,
                        PasswordChannel.NOTICE,
                        keyring=services.keyring,
                        connector_kinds=services.connector_kinds,
                    )
                except PasswordRefused as refused:
                    await session.commit()  # the refusal itself is on the record
                    fail(f"refused: {refused.decision.reason_ja}")
                await returns.expect_return(
                    session,
                    kind=ReturnKind.PASSWORD_NOTICE,
                    reference=package.public_id,
                    contract=package.contract,
                    handed_over_at=utcnow(),
                    package=package,
                )
                # The release line above is the rule's decision; this one names the humans of the hand-over.
                await record(
                    session,
                    RegisterEntry(
                        kind=RegisterKind.PASSWORD_NOTICE_HANDED_OVER,
                        category=Category.PASSWORD_NOTICE,
                        content=f"パスワード通知書の手渡し（{package.zip_name}）",
                        contract_id=package.contract.public_id,
                        package_id=package.public_id,
                        handler_from=by.label,
                        handler_to=to.label,
                        quantity={"items": 1},
                        channel=PasswordChannel.NOTICE.value,
                        details={"from": by.details(), "to": to.details()},
                    ),
                )
                await session.commit()
                return PasswordNotice(
                    issued_on=jst_date(utcnow()),
                    issuer=await _ward_name(session),
                    contractor=package.contract.party.name,
                    handler=person.name,
                    contract_name=package.contract.name,
                    package_id=package.public_id,
                    password=released.password,
                )

        # Rendered outside the event loop: the PDF library reads its fonts with blocking calls.
        pdf = render_password_notice(run(go()))
        write_atomic(out, pdf)  # private (0600) from the start: the notice carries the password
        click.echo(f"notice written to {out}; hand it over separately from the data, then destroy the file")
