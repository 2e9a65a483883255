"""The accounts page (C-10): list the accounts in the signed-in person's care, see one with its API tokens, and
cut it off (disable with a reason), restore it, lift its lockout, end its sessions or revoke one of its tokens.

Who may see or change which account is ``decide_account``: the admin every account, ward staff the contractor
people designated on their own section's contracts, the compliance officer reads only. The changes themselves are
``exchange.identity.accounts`` (as the CLI's), which write the audit event and the register line naming the person.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from exchange.identity import accounts
from exchange.identity.authorisation import Action, Decision, account_scope, decide_account
from exchange.web.context import Page, error_page, page
from exchange.web.guards import public_id_param, see_other
from ledger.models.base import utcnow
from ledger.models.identity import ApiToken
from ledger.models.parties import Account, PersonRole

ROLE_JA = {
    PersonRole.ADMIN: "管理者",
    PersonRole.STAFF: "区職員",
    PersonRole.COMPLIANCE: "監査担当者",
    PersonRole.MANAGER: "取扱責任者",
    PersonRole.HANDLER: "取扱者",
}

UNKNOWN = Decision(False, "object.unknown", "", hidden=True)


def _status(item: accounts.AccountSummary) -> str:
    if item.account.disabled_at is not None:
        return "無効"
    if item.locked_until is not None:
        return "ロック中"
    return "有効"


def _acting(ctx: Page) -> accounts.Acting:
    """The person who acts, as register lines name people: name and login."""
    p = ctx.principal
    name = f"{p.person_name}（{p.login}）" if p.person_name else p.login
    return accounts.Acting(name, ctx.actor, ctx.ip)


async def _authorised(ctx: Page, action: Action, public_id: str) -> Account:
    """The account acted on, after ``decide_account``; unknown and out-of-scope accounts answer alike (404)."""
    account = (await ctx.session.execute(select(Account).where(Account.public_id == public_id))).scalar_one_or_none()
    if account is None:
        await ctx.deny(action, UNKNOWN, object_type="account", object_id=public_id)
        raise AssertionError("unreachable")
    decision = decide_account(ctx.principal, action, await account_scope(ctx.session, account))
    if not decision.allowed:
        await ctx.deny(action, decision, object_type="account", object_id=public_id)
    return account


async def accounts_home(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        decision = decide_account(ctx.principal, Action.ACCOUNTS_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.ACCOUNTS_VIEW, decision)
        candidates = list((await ctx.session.execute(select(Account).order_by(Account.login))).scalars())
        visible = [
            account
            for account in candidates
            if decide_account(ctx.principal, Action.ACCOUNTS_VIEW, await account_scope(ctx.session, account)).allowed
        ]
        rows = [(item, _status(item)) for item in await accounts.summaries(ctx.session, utcnow(), visible)]
        return ctx.render("accounts.html", {"rows": rows, "roles": ROLE_JA})


async def account_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    async with page(request) as ctx:
        account = await _authorised(ctx, Action.ACCOUNTS_VIEW, public_id)
        (summary,) = await accounts.summaries(ctx.session, utcnow(), [account])
        tokens = await accounts.api_tokens_of(ctx.session, account)
        scope = await account_scope(ctx.session, account)
        may_change = decide_account(ctx.principal, Action.ACCOUNT_ENABLE, scope).allowed
        may_disable = decide_account(ctx.principal, Action.ACCOUNT_DISABLE, scope).allowed
        context = {
            "item": summary,
            "status": _status(summary),
            "tokens": tokens,
            "now": utcnow(),  # to tell expired tokens from live ones
            "may_change": may_change,
            "may_disable": may_disable,
            "roles": ROLE_JA,
        }
        return ctx.render("account.html", context)


async def disable_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        account = await _authorised(ctx, Action.ACCOUNT_DISABLE, public_id)
        reason = str(form.get("reason", "")).strip()[:500]
        if not reason:
            raise error_page(request, 400, "停止の理由を入力してください。")
        await accounts.disable(ctx.session, account, _acting(ctx), now=utcnow(), reason=reason)
        return see_other(f"/accounts/{public_id}")


async def enable_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        account = await _authorised(ctx, Action.ACCOUNT_ENABLE, public_id)
        await accounts.enable(ctx.session, account, _acting(ctx), now=utcnow())
        return see_other(f"/accounts/{public_id}")


async def unlock_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        account = await _authorised(ctx, Action.ACCOUNT_UNLOCK, public_id)
        await accounts.unlock(ctx.session, account, _acting(ctx), now=utcnow())
        return see_other(f"/accounts/{public_id}")


async def end_sessions_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        account = await _authorised(ctx, Action.ACCOUNT_END_SESSIONS, public_id)
        await accounts.end_sessions(ctx.session, account, _acting(ctx), now=utcnow())
        if account.id == ctx.principal.account_id:
            return see_other("/")  # one's own sessions, this one included, have just ended
        return see_other(f"/accounts/{public_id}")


async def token_revoke_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "account_id")
    token_id = public_id_param(request, "token_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        account = await _authorised(ctx, Action.API_TOKEN_REVOKE, public_id)
        token = (
            await ctx.session.execute(
                select(ApiToken).where(ApiToken.public_id == token_id, ApiToken.account_id == account.id)
            )
        ).scalar_one_or_none()
        if token is None:
            await ctx.deny(Action.API_TOKEN_REVOKE, UNKNOWN, object_type="api_token", object_id=token_id)
        await accounts.revoke_token(ctx.session, account, token, _acting(ctx), now=utcnow())
        return see_other(f"/accounts/{public_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/accounts", accounts_home)
    app.router.add_get("/accounts/{account_id}", account_page)
    app.router.add_post("/accounts/{account_id}/disable", disable_post)
    app.router.add_post("/accounts/{account_id}/enable", enable_post)
    app.router.add_post("/accounts/{account_id}/unlock", unlock_post)
    app.router.add_post("/accounts/{account_id}/end-sessions", end_sessions_post)
    app.router.add_post("/accounts/{account_id}/tokens/{token_id}/revoke", token_revoke_post)
