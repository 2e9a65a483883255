"""``handover package``, ``handover packages …`` and ``handover password …``: packages by hand."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from exchange import hub
from exchange.cli.setup import CliState, fail, run
from exchange.delivery import portal_downloads
from exchange.delivery.package_state import PackageRefused
from exchange.duties.mail import SmtpMailer
from exchange.passwords import email_channel as password_email
from exchange.passwords.printed_notice import PasswordNotice, render_password_notice
from exchange.passwords.release import PasswordChannel, PasswordRefused, release
from exchange.retention import returns
from ledger.models import Contract, IntakeStatus, Package, Party, PartyKind, Person, Route
from ledger.models.base import utcnow
from ledger.models.retention import ExpectedReturn, ReturnKind


async def _package(session: AsyncSession, public_id: str) -> Package:
    package = (
        await session.execute(
            select(Package)
            .where(Package.public_id == public_id)
            .options(selectinload(Package.contract).selectinload(Contract.party))
        )
    ).scalar_one_or_none()
    if package is None:
        fail(f"no package {public_id}")
    return package


async def _person(session: AsyncSession, code: str) -> Person:
    person = (await session.execute(select(Person).where(Person.code == code))).scalar_one_or_none()
    if person is None:
        fail(f"no person with code {code}")
    return person


async def _ward_name(session: AsyncSession) -> str:
    ward = (await session.execute(select(Party).where(Party.kind == PartyKind.WARD).limit(1))).scalar_one_or_none()
    return ward.name if ward is not None else ""


def _summary(package: Package) -> dict[str, object]:
    return {
        "id": package.public_id,
        "contract": package.contract.code,
        "recipient": package.contract.party.name,
        "status": package.status.value,
        "zip_name": package.zip_name,
        "size": package.size,
        "sha256": package.sha256,
        "delivered_via": package.delivered_via,
        "created_at": package.created_at.isoformat(),
        "delivered_at": package.delivered_at.isoformat() if package.delivered_at else None,
        "acknowledged_at": package.acknowledged_at.isoformat() if package.acknowledged_at else None,
        "downloads": f"{package.download_count}/{package.download_limit}",
        "content": package.content,
    }


def register(main: click.Group) -> None:
    @main.command("package")
    @click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
    @click.option("--route", "route_code", required=True, help="Route code (see 'handover routes list').")
    @click.pass_obj
    def package_(state: CliState, file: Path, route_code: str) -> None:
        """Check, pack and deliver one file by hand, as if dropped in the route's folder (the file is kept)."""

        async def go() -> None:
            async with hub.services(state.settings) as services:
                async with services.sessions() as session:
                    route = (await session.execute(select(Route).where(Route.code == route_code))).scalar_one_or_none()
                if route is None:
                    fail(f"no route {route_code}")
                row_id = await services.pipeline.enqueue_manual(route, file)
                with click.progressbar(length=4, label="処理中", show_pos=True) as bar:
                    row = await services.pipeline.run_to_end(row_id)
                    bar.update(4)
                async with services.sessions() as session:
                    made = (await session.execute(select(Package).where(Package.intake_id == row_id))).scalars()
                    ids = [p.public_id for p in made]
            if row.status == IntakeStatus.QUARANTINED:
                fail(f"refused: {row.reason_ja}")
            if row.status != IntakeStatus.FINISHED:
                click.echo(f"not yet delivered ({row.reason_ja or 'retrying'}); the running hub will retry.")
            for public_id in ids:
                click.echo(f"package {public_id}")

        run(go())

    @main.group("packages")
    def packages() -> None:
        """Encrypted packages."""

    @packages.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def list_(state: CliState, as_json: bool) -> None:
        """Every package with its contract, recipient and state."""

        async def go() -> list[dict[str, object]]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                rows = await session.execute(
                    select(Package)
                    .options(selectinload(Package.contract).selectinload(Contract.party))
                    .order_by(Package.id)
                )
                return [_summary(p) for p in rows.scalars()]

        items = run(go())
        if as_json:
            click.echo(json.dumps(items, ensure_ascii=False, indent=2))
            return
        for item in items:
            click.echo(f"{item['id']}  {item['status']:<9}  {item['contract']}  {item['zip_name']}")

    @packages.command("show")
    @click.argument("package_id")
    @click.pass_obj
    def show(state: CliState, package_id: str) -> None:
        """One package in full (never its password)."""

        async def go() -> dict[str, object]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                return _summary(await _package(session, package_id))

        click.echo(json.dumps(run(go()), ensure_ascii=False, indent=2))

    @packages.command("acknowledge")
    @click.argument("package_id")
    @click.option("--by", "person_code", required=True, help="The designated person who confirmed receipt.")
    @click.pass_obj
    def acknowledge(state: CliState, package_id: str, person_code: str) -> None:
        """Record a receipt the recipient confirmed outside the portal (by phone or in person).

        The portal's own rule applies: only a person designated on the package's contract, only while the
        package's state allows it, and the first acknowledgement stands.
        """

        async def go() -> bool:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                package = await _package(session, package_id)
                person = await _person(session, person_code)
                try:
                    return await portal_downloads.acknowledge(
                        session,
                        package,
                        person,
                        package.contract.public_id,
                        now=utcnow(),
                        via=portal_downloads.ReceiptVia.STAFF,
                    )
                except PackageRefused as refused:
                    fail(f"refused: {refused.reason_ja}")

        if run(go()):
            click.echo("receipt recorded")
        else:
            click.echo("receipt was already recorded; the first acknowledgement stands")

    @main.group("password")
    def password() -> None:
        """Package passwords, released only under the split-password rule."""

    @password.command("notice-returned")
    @click.argument("package_id")
    @click.option("--received-by", "received_by", required=True, help="The staff member who took it back.")
    @click.pass_obj
    def notice_returned(state: CliState, package_id: str, received_by: str) -> None:
        """Record that a printed password notice came back after the work (C-04)."""

        async def go() -> int:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                package = await _package(session, package_id)
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
                    await returns.record_return(session, item, received_by=received_by, at=utcnow())
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
                package = await _package(session, package_id)
                person = await _person(session, person_code)
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
    @click.option("--to", "person_code", required=True, help="The designated person the notice is addressed to.")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def notice(state: CliState, package_id: str, person_code: str, out: Path) -> None:
        """Print the password notice (パスワード通知書) as a PDF, if the rule allows it now."""

        async def go() -> bytes:
            async with hub.services(state.settings) as services, services.sessions() as session:
                package = await _package(session, package_id)
                person = await _person(session, person_code)
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
                await session.commit()
                return render_password_notice(
                    PasswordNotice(
                        issued_on=date.today(),
                        issuer=await _ward_name(session),
                        contractor=package.contract.party.name,
                        handler=person.name,
                        contract_name=package.contract.name,
                        package_id=package.public_id,
                        password=released.password,
                    )
                )

        pdf = run(go())
        out.write_bytes(pdf)
        out.chmod(0o600)
        click.echo(f"notice written to {out}; hand it over separately from the data, then destroy the file")
