"""``handover admin …``: import parties, contracts and routes; invite a person and record the letter's hand-over
(C-22); record an LGWAN-ASP provider's login details; create an API token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from sqlalchemy import select

from exchange.admin import asp_credentials, bootstrap
from exchange.admin.data_import import ImportError_, import_files
from exchange.cli.setup import CliState, fail, run
from exchange.hub import plugin_config
from exchange.identity import api_tokens, invitations
from exchange.keys import sources
from ledger.files import write_atomic
from ledger.models.base import utcnow
from ledger.models.parties import Account
from ledger.wareki import JstParseError, format_jst, parse_jst, to_wareki
from policies.pluginmanager import build_plugin_manager


def _handed_text(handed: invitations.HandedOver) -> str:
    where = "、".join(handed.contracts) or "契約なし"
    return (
        f"引渡しを記録しました: {handed.person.label} へ {handed.method.value}（{handed.staff.label}、"
        f"{format_jst(handed.at)} 日本時間; 管理簿: {where}）"
    )


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
            plugins = await asyncio.to_thread(build_plugin_manager, plugin_config(state.settings))
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                summary = await import_files(
                    session, files, base_dir=state.settings.data_dir.resolve(), plugins=plugins
                )
            parts = [f"{kind} +{n}" for kind, n in summary.created.items()]
            parts += [f"{kind} ~{n}" for kind, n in summary.updated.items()]
            return "\n".join([*summary.notes, f"imported: {', '.join(parts) or 'nothing to import'}"])

        try:
            click.echo(run(go()))
        except ImportError_ as exc:
            fail("nothing was imported, because:", exc.problems)

    methods = click.Choice([m.value for m in invitations.HandoverMethod])

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
    @click.option("--by", "staff_code", help="Person code of the ward staff member handing the letter over now.")
    @click.option("--method", type=methods, help="How it is handed over now: 手渡し, 簡易書留 or 口頭.")
    @click.pass_obj
    def invite(
        state: CliState, person_code: str, out: Path, issuer: str, staff_code: str | None, method: str | None
    ) -> None:
        """Issue a one-time invitation code for a person and write the letter to print and send.

        With --by and --method the hand-over is recorded at once; otherwise record it with `admin invite-handed`
        when the letter has gone.
        """
        if out.exists():
            fail(f"{out} already exists; choose another file")
        if (staff_code is None) != (method is None):
            fail("--by と --method は両方指定してください（引渡しを後で記録する場合はどちらも省略します）。")

        async def go() -> tuple[invitations.InvitationLetter, invitations.HandedOver | None]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                now = utcnow()
                letter = await invitations.invite(
                    session, person_code, issuer=issuer, portal_url=state.settings.web.public_url, now=now
                )
                handed = None
                if staff_code is not None and method is not None:
                    handed = await invitations.record_handover(
                        session, person_code, staff_code=staff_code, method=invitations.HandoverMethod(method), at=now
                    )
                return letter, handed

        try:
            letter, handed = run(go())
        except invitations.InvitationError as exc:
            fail(str(exc))
        # The letter carries a live secret: readable by the operator only, and never overwriting another file.
        write_atomic(out, invitations.render_letter(letter), exclusive=True)
        click.echo(f"invitation for {letter.login} written to {out} (valid until {format_jst(letter.expires_at)} JST)")
        if handed is None:
            click.echo(
                "Deliver it by hand or registered mail, then record it: "
                f"handover admin invite-handed {person_code} --by STAFF --method 手渡し|簡易書留|口頭"
            )
        else:
            click.echo(_handed_text(handed))

    @admin.command("invite-handed")
    @click.argument("person_code")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member who handed it.")
    @click.option("--method", type=methods, required=True, help="手渡し, 簡易書留 or 口頭.")
    @click.option("--at", "handed_at", help="When, Japan time (YYYY-MM-DD HH:MM); default now.")
    @click.pass_obj
    def invite_handed(state: CliState, person_code: str, staff_code: str, method: str, handed_at: str | None) -> None:
        """Record that PERSON_CODE's invitation letter (or code, by voice) was handed over (C-22)."""
        try:
            at = parse_jst(handed_at) if handed_at else utcnow()
        except JstParseError as exc:
            fail(str(exc))
        if at > utcnow():
            fail("引渡日時が未来になっています。")

        async def go() -> invitations.HandedOver:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                return await invitations.record_handover(
                    session, person_code, staff_code=staff_code, method=invitations.HandoverMethod(method), at=at
                )

        try:
            click.echo(_handed_text(run(go())))
        except invitations.InvitationError as exc:
            fail(str(exc))

    @admin.group("asp-credentials")
    def asp_credentials_group() -> None:
        """Login details an LGWAN-ASP provider gave the ward out of band (C-22)."""

    @asp_credentials_group.command("record")
    @click.argument("name")
    @click.option("--provider", required=True, help="The provider, e.g. 株式会社見本LGWAN印刷.")
    @click.option("--url", "page_url", required=True, help="The service page's address.")
    @click.option("--login-id", required=True, help="The login ID the provider gave.")
    @click.option("--method", type=click.Choice(asp_credentials.METHODS), required=True, help="How it came.")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member who received it.")
    @click.option("--received-at", help="When, Japan time (YYYY-MM-DD HH:MM); default now.")
    @click.option("--rotate-days", default=90, show_default=True, type=click.IntRange(1, 3660))
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input, not a prompt.")
    @click.pass_obj
    def asp_record(
        state: CliState,
        name: str,
        provider: str,
        page_url: str,
        login_id: str,
        method: str,
        staff_code: str,
        received_at: str | None,
        rotate_days: int,
        password_stdin: bool,
    ) -> None:
        """Record NAME's login details; the password is asked for (never an argument) and sealed at once."""
        try:
            at = parse_jst(received_at) if received_at else utcnow()
        except JstParseError as exc:
            fail(str(exc))
        if password_stdin:
            password = click.get_text_stream("stdin").readline().rstrip("\r\n")
        else:
            password = click.prompt("パスワード", hide_input=True, confirmation_prompt="パスワード（確認）")
        received = asp_credentials.Received(name, provider, page_url, login_id, password, method, at, rotate_days)

        async def go() -> str:
            keyring = await asyncio.to_thread(sources.hub_keyring, state.settings)
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                row = await asp_credentials.record_received(
                    session, keyring, received, staff_code=staff_code, now=utcnow()
                )
                due = to_wareki(row.rotate_due_on)
                return f"{row.name}: 記録しました（受領 {row.received_by}、パスワード変更期限 {due}）"

        try:
            click.echo(run(go()))
        except asp_credentials.CredentialError as exc:
            fail(str(exc))

    @asp_credentials_group.command("list")
    @click.pass_obj
    def asp_list(state: CliState) -> None:
        """The login details in use (never the password)."""

        async def go() -> list[str]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                return [
                    f"{row.name}  {row.provider}  {row.page_url}  ID {row.login_id}  受領 {format_jst(row.received_at)}"
                    f" {row.received_by}（{row.method}）  変更期限 {to_wareki(row.rotate_due_on)}"
                    for row in await asp_credentials.current(session)
                ]

        for line in run(go()) or ["記録はありません"]:
            click.echo(line)

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
