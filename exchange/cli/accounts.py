"""``handover accounts …``: list and show portal accounts; disable, enable, unlock one; end its sessions; list and
revoke its API tokens (C-10). Every change names the person who made it (``--by``) in the audit log and register."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap
from exchange.cli.setup import CliState, fail, run
from exchange.identity import accounts
from ledger.models.base import utcnow
from ledger.models.identity import ApiToken
from ledger.models.parties import Account
from ledger.wareki import JST

T = TypeVar("T")

BY = click.option("--by", "by", required=True, help="The person who makes this change (named in the register).")


def _jst_iso(value: object) -> str:
    return datetime.fromisoformat(str(value)).astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _row(item: accounts.AccountSummary) -> dict[str, object]:
    account = item.account
    return {
        "id": account.public_id,
        "login": account.login,
        "role": account.role.value,
        "person": item.person_name,
        "party": item.party_name,
        "disabled_at": account.disabled_at.isoformat() if account.disabled_at else None,
        "locked_until": item.locked_until.isoformat() if item.locked_until else None,
        "failures": item.failures,
        "sessions": item.sessions,
        "active_tokens": item.tokens,
    }


def _with_account(state: CliState, login: str, work: Callable[[AsyncSession, Account], Awaitable[T]]) -> T:
    async def go() -> T:
        async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
            account = await accounts.find(session, login)
            if account is None:
                fail(f"アカウント {login!r} は見つかりません。")
            return await work(session, account)

    return run(go())


def register(main: click.Group) -> None:
    @main.group("accounts")
    def group() -> None:
        """Portal accounts: disable, enable, unlock, end sessions, API tokens."""

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
    @click.pass_obj
    def list_(state: CliState, as_json: bool) -> None:
        """Every account with its state (disabled, locked, open sessions, live API tokens)."""

        async def go() -> list[dict[str, object]]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                return [_row(item) for item in await accounts.summaries(session, utcnow())]

        rows = run(go())
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for row in rows:
            flags = []
            if row["disabled_at"]:
                flags.append("停止中")
            if row["locked_until"]:
                flags.append(f"ロック中（{_jst_iso(row['locked_until'])}まで）")
            click.echo(
                f"{row['login']}\t{row['role']}\t{row['person'] or '—'}\t{row['party'] or '—'}\t"
                f"セッション{row['sessions']}\tトークン{row['active_tokens']}\t{' '.join(flags) or '有効'}"
            )

    @group.command("show")
    @click.argument("login")
    @click.pass_obj
    def show(state: CliState, login: str) -> None:
        """One account's state and its API tokens, as JSON."""

        async def work(session: AsyncSession, account: Account) -> dict[str, object]:
            (summary,) = await accounts.summaries(session, utcnow(), [account])
            tokens = await accounts.api_tokens_of(session, account)
            return {**_row(summary), "tokens": [_token(token) for token in tokens]}

        click.echo(json.dumps(_with_account(state, login, work), ensure_ascii=False, indent=2))

    @group.command("disable")
    @click.argument("login")
    @BY
    @click.option("--reason", required=True, help="Why, e.g. '退職のため'.")
    @click.pass_obj
    def disable(state: CliState, login: str, by: str, reason: str) -> None:
        """Cut an account off now: no sign-in, every session ended, every API token revoked."""

        async def work(session: AsyncSession, account: Account) -> accounts.CutOff:
            return await accounts.disable(session, account, accounts.Acting(by), now=utcnow(), reason=reason)

        ended = _with_account(state, login, work)
        click.echo(f"{login} を停止しました（セッション{ended.sessions}件終了、APIトークン{ended.tokens}件失効）。")

    @group.command("enable")
    @click.argument("login")
    @BY
    @click.pass_obj
    def enable(state: CliState, login: str, by: str) -> None:
        """Let a disabled account sign in again (its revoked tokens stay revoked)."""

        async def work(session: AsyncSession, account: Account) -> None:
            await accounts.enable(session, account, accounts.Acting(by), now=utcnow())

        _with_account(state, login, work)
        click.echo(f"{login} の利用を再開しました。")

    @group.command("unlock")
    @click.argument("login")
    @BY
    @click.pass_obj
    def unlock(state: CliState, login: str, by: str) -> None:
        """Lift an account's sign-in lockout."""

        async def work(session: AsyncSession, account: Account) -> bool:
            return await accounts.unlock(session, account, accounts.Acting(by), now=utcnow())

        lifted = _with_account(state, login, work)
        click.echo(f"{login} のログイン制限を解除しました。" if lifted else f"{login} はロックされていません。")

    @group.command("end-sessions")
    @click.argument("login")
    @BY
    @click.pass_obj
    def end_sessions(state: CliState, login: str, by: str) -> None:
        """End every portal session of an account (it may sign in again)."""

        async def work(session: AsyncSession, account: Account) -> accounts.CutOff:
            return await accounts.end_sessions(session, account, accounts.Acting(by), now=utcnow())

        ended = _with_account(state, login, work)
        click.echo(f"{login} のセッションを{ended.sessions}件終了しました。")

    @group.command("tokens")
    @click.argument("login")
    @click.pass_obj
    def tokens(state: CliState, login: str) -> None:
        """An account's API tokens (never their values: only hashes are kept)."""

        async def work(session: AsyncSession, account: Account) -> list[dict[str, object]]:
            return [_token(token) for token in await accounts.api_tokens_of(session, account)]

        click.echo(json.dumps(_with_account(state, login, work), ensure_ascii=False, indent=2))

    @group.command("revoke-token")
    @click.argument("login")
    @click.argument("token_id")
    @BY
    @click.pass_obj
    def revoke_token(state: CliState, login: str, token_id: str, by: str) -> None:
        """Revoke one API token of an account (TOKEN_ID from 'handover accounts tokens')."""

        async def work(session: AsyncSession, account: Account) -> bool:
            for token in await accounts.api_tokens_of(session, account):
                if token.public_id == token_id:
                    await accounts.revoke_token(session, account, token, accounts.Acting(by), now=utcnow())
                    return True
            return False

        if not _with_account(state, login, work):
            fail(f"{login} に APIトークン {token_id} はありません。")
        click.echo(f"APIトークン {token_id} を失効させました。")


def _token(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.public_id,
        "name": token.name,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }
