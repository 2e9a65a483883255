"""``handover admin …``: import parties, contracts and routes; invite a person (C-22); create an API token."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from exchange.admin import bootstrap
from exchange.admin.data_import import ImportError_, import_files
from exchange.cli.setup import CliState, fail, run
from exchange.identity import api_tokens, invitations
from ledger.files import write_atomic
from ledger.models.base import utcnow
from ledger.models.parties import Account


def register(main: click.Group) -> None:
    @main.group("admin")
    def admin() -> None:
        """Administration."""

    @admin.command("import")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
    @click.pass_obj
    def import_(state: CliState, files: tuple[Path, ...]) -> None:
        """Load parties, people, programs, contracts and routes from TOML files (idempotent)."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                summary = await import_files(session, files, base_dir=state.settings.data_dir.resolve())
            parts = [f"{kind} +{n}" for kind, n in summary.created.items()]
            parts += [f"{kind} ~{n}" for kind, n in summary.updated.items()]
            return ", ".join(parts) or "nothing to import"

        try:
            click.echo(f"imported: {run(go())}")
        except ImportError_ as exc:
            fail("nothing was imported, because:", exc.problems)

    @admin.command("invite")
    @click.argument("person_code")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write the PDF letter (created with mode 0600; must not exist).",
    )
    @click.option(
        "--issuer", default="個人情報受渡しハブ管理者", show_default=True, help="Sender printed on the letter."
    )
    @click.pass_obj
    def invite(state: CliState, person_code: str, out: Path, issuer: str) -> None:
        """Issue a one-time invitation code for a person and write the letter to print and send."""
        if out.exists():
            fail(f"{out} already exists; choose another file")

        async def go() -> invitations.InvitationLetter:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                return await invitations.invite(
                    session, person_code, issuer=issuer, portal_url=state.settings.web.public_url, now=utcnow()
                )

        try:
            letter = run(go())
        except invitations.InvitationError as exc:
            fail(str(exc))
        # The letter carries a live secret: readable by the operator only, and never overwriting another file.
        write_atomic(out, invitations.render_letter(letter), exclusive=True)
        click.echo(f"invitation for {letter.login} written to {out} (valid until {letter.expires_at:%Y-%m-%d})")
        click.echo("Deliver it by hand or registered mail; the code is not shown anywhere else.")

    @admin.group("token")
    def token() -> None:
        """API tokens for automation."""

    @token.command("create")
    @click.argument("login")
    @click.option("--name", required=True, help="What the token is for, e.g. 'LoGo form intake'.")
    @click.option("--days", default=90, show_default=True, type=click.IntRange(1, 366))
    @click.pass_obj
    def create(state: CliState, login: str, name: str, days: int) -> None:
        """Create a bearer token for an account; it is printed once and stored only as a hash."""

        async def go() -> str | None:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                account = (await session.execute(select(Account).where(Account.login == login))).scalar_one_or_none()
                if account is None:
                    return None
                return api_tokens.create(session, account, name, now=utcnow(), days=days)

        value = run(go())
        if value is None:
            fail(f"no account with login {login!r}")
        click.echo(value)
