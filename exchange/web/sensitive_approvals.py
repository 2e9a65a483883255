"""Staff page action: record the ward's approval for forbidden-category items on a contract (C-07, 特記事項5).

The form sits on the staff contract page (``staff_contract.html``); recording goes through
``exchange.admin.sensitive_approvals.approve``, like the CLI and the contract import.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from exchange.admin import sensitive_approvals
from exchange.identity.authorisation import Action
from exchange.web.context import error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other


async def approve_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.SENSITIVE_APPROVE, public_id)
        items = str(form.get("items", "")).replace("、", ",").split(",")
        try:
            approved_on = date.fromisoformat(str(form.get("approved_on", "")).strip())
        except ValueError:
            raise error_page(request, 400, "承諾日を入力してください。") from None
        staff = ctx.principal
        recorder = f"{staff.person_name}（{staff.login}）" if staff.person_name else staff.login
        try:
            row = await sensitive_approvals.approve(
                ctx.session,
                contract,
                items=[item[:200] for item in items][:50],
                document_ref=str(form.get("document_ref", ""))[:200],
                approver=str(form.get("approver", ""))[:200],
                approved_on=approved_on,
                recorded_by=recorder,
            )
        except sensitive_approvals.SensitiveApprovalError as exc:
            raise error_page(request, 400, str(exc)) from None
        ctx.audit(
            Action.SENSITIVE_APPROVE,
            object_type="contract",
            object_id=public_id,
            detail={"approval": row.public_id, "ref": row.document_ref, "items": row.items},
        )
        return see_other(f"/staff/contracts/{public_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/staff/contracts/{contract_id}/sensitive-approvals", approve_post)
