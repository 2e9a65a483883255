"""Ward staff pages: deliveries and their state, quarantined files, revoke and re-send, designations,
sub-contract approvals, and the duties' escalations (ward notices).

Staff see and change only their own section's contracts (the admin sees all); every change is an audit event
and a register line (区分「管理」). A designation change is pushed to the endpoints at once when the portal has
the hub's connectors (C-05).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from connectors.base import ConnectorError
from exchange.admin import sensitive_approvals, subcontracts
from exchange.delivery.endpoint_access import sync_access
from exchange.delivery.package_state import PackageState, StateRefusal, package_state
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, decide
from exchange.intake.quarantine_decisions import held_drops
from exchange.web.context import Page, error_page, page
from exchange.web.guards import (
    authorised_contract,
    authorised_package,
    public_id_param,
    see_other,
)
from ledger.models.base import utcnow
from ledger.models.contracts import Contract, Designation, DesignationRole, Program
from ledger.models.duties import DutyNotice, NoticeAudience
from ledger.models.packages import IntakeFile, IntakeStatus, Package, PackageStatus
from ledger.models.parties import Person, PersonRole
from ledger.registers.handover import Category, RegisterEntry, RegisterKind, record
from ledger.wareki import JstParseError, parse_jst


async def staff_home(request: web.Request) -> web.StreamResponse:
    async with page(request) as ctx:
        decision = decide(ctx.principal, Action.STAFF_VIEW)
        if not decision.allowed:
            await ctx.deny(Action.STAFF_VIEW, decision)
        section = ctx.principal.section if ctx.principal.role is PersonRole.STAFF else None
        packages_q = (
            select(Package, Contract)
            .join(Contract, Package.contract_id == Contract.id)
            .join(Program, Contract.program_id == Program.id)
            .order_by(Package.created_at.desc())
            .limit(200)
        )
        contracts_q = (
            select(Contract)
            .join(Program, Contract.program_id == Program.id)
            .options(selectinload(Contract.party), selectinload(Contract.program))
            .order_by(Contract.code)
        )
        notices_q = (
            select(DutyNotice, Contract)
            .outerjoin(Contract, DutyNotice.contract_id == Contract.id)
            .outerjoin(Program, Contract.program_id == Program.id)
            .where(DutyNotice.audience == NoticeAudience.WARD)
            .order_by(DutyNotice.created_at.desc(), DutyNotice.id.desc())
            .limit(100)
        )
        if section is not None:
            packages_q = packages_q.where(Program.section == section)
            contracts_q = contracts_q.where(Program.section == section)
            notices_q = notices_q.where(Program.section == section)
        packages = (await ctx.session.execute(packages_q)).all()
        # Drops waiting for a decision (release, discard, take out); staff see their own section's.
        quarantined = await held_drops(ctx.session, section)
        contracts = (await ctx.session.execute(contracts_q)).scalars().all()
        notices = (await ctx.session.execute(notices_q)).all()
        revoked = {p.public_id for p, _c in packages if p.revoked_at is not None}
        context = {
            "packages": packages,
            "quarantined": quarantined,
            "contracts": contracts,
            "notices": notices,
            "revoked": revoked,
            "resendable": {p.public_id for p, _c in packages if _resendable(p)},
        }
        return ctx.render("staff.html", context)


def _resendable(package: Package) -> bool:
    """Delivery failed for good, or is still waiting after a failed attempt."""
    return package.status == PackageStatus.FAILED or (
        package.status == PackageStatus.SEALED and package.last_error is not None
    )


def _staff_name(ctx: Page) -> str:
    """The signed-in member of staff as register lines name people: name and code (the login is the code)."""
    if ctx.principal.person_name:
        return f"{ctx.principal.person_name}（{ctx.principal.login}）"
    return ctx.principal.login


async def revoke_post(request: web.Request) -> web.StreamResponse:
    """Stop further downloads and password pick-ups of a package: its limit becomes what was already used."""
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_REVOKE, public_id)
        reason = str(form.get("reason", "")).strip()[:500]
        if not reason:
            raise error_page(request, 400, "取消しの理由を入力してください。")
        state = package_state(package)
        if state is PackageState.ERASED:
            raise error_page(request, 400, StateRefusal(state).reason_ja)
        if package.revoked_at is not None:
            # Asked twice (another tab, a colleague): the package is revoked, which is what was asked for.
            ctx.audit(Action.PACKAGE_REVOKE, object_type="package", object_id=public_id, detail={"already": True})
            return see_other("/staff")
        package.revoked_at = utcnow()
        await record(
            ctx.session,
            RegisterEntry(
                kind=RegisterKind.PACKAGE_REVOKED,
                category=Category.ADMIN,
                content=f"提供の取消し（{package.zip_name}）：{reason}",
                contract_id=contract.public_id,
                package_id=package.public_id,
                handler_from=_staff_name(ctx),
                handler_to=contract.name,
                details={"reason": reason, "downloads": package.download_count},
            ),
        )
        ctx.audit(Action.PACKAGE_REVOKE, object_type="package", object_id=public_id, detail={"reason": reason})
        return see_other("/staff")


async def resend_post(request: web.Request) -> web.StreamResponse:
    """Queue a failed delivery again: the delivery worker retries it from the primary connector at once."""
    public_id = public_id_param(request, "package_id")
    async with page(request, view=False) as ctx:
        await ctx.form()
        package, contract, _scope = await authorised_package(ctx, Action.PACKAGE_RESEND, public_id)
        if not _resendable(package):
            raise error_page(request, 400, "このデータは配送に失敗していないため、再送できません。")
        intake = await ctx.session.get(IntakeFile, package.intake_id) if package.intake_id is not None else None
        if intake is None or intake.status != IntakeStatus.PACKED:
            raise error_page(request, 400, "このデータは配送待ちの受付に属していないため、再送できません。")
        now = utcnow()
        previous = {"attempts": package.attempts, "last_error": package.last_error}
        package.status = PackageStatus.SEALED
        package.attempts, package.next_attempt_at = 0, now
        intake.attempts, intake.next_attempt_at = 0, now
        await record(
            ctx.session,
            RegisterEntry(
                kind=RegisterKind.PACKAGE_RESEND,
                category=Category.ADMIN,
                content=f"再送の指示（{package.zip_name}）",
                contract_id=contract.public_id,
                package_id=package.public_id,
                handler_from=_staff_name(ctx),
                handler_to=contract.name,
                details=previous,
            ),
        )
        ctx.audit(Action.PACKAGE_RESEND, object_type="package", object_id=public_id, detail=previous)
        return see_other("/staff")


async def contract_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.STAFF_VIEW, public_id)
        designations = (
            await ctx.session.execute(
                select(Designation, Person)
                .join(Person, Designation.person_id == Person.id)
                .where(Designation.contract_id == contract.id)
                .order_by(Person.code)
            )
        ).all()
        people = (
            (
                await ctx.session.execute(
                    select(Person).where(Person.party_id == contract.party_id).order_by(Person.code)
                )
            )
            .scalars()
            .all()
        )
        parent = await ctx.session.get(Contract, contract.parent_id) if contract.parent_id is not None else None
        context = {
            "contract": contract,
            "sensitive_approvals": await sensitive_approvals.approvals_of(ctx.session, contract),
            "designations": designations,
            "people": people,
            "parent": parent,
            "roles": list(DesignationRole),
        }
        return ctx.render("staff_contract.html", context)


async def designation_post(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.DESIGNATION_CHANGE, public_id)
        person = (
            await ctx.session.execute(select(Person).where(Person.public_id == str(form.get("person", ""))))
        ).scalar_one_or_none()
        if person is None or person.party_id != contract.party_id:
            raise error_page(request, 400, "この契約の相手方に所属する方を選んでください。")
        try:
            role = DesignationRole(str(form.get("role", "")))
        except ValueError:
            raise error_page(request, 400, "役割を選んでください。") from None
        revoke = form.get("op") == "revoke"
        now = utcnow()
        row = (
            await ctx.session.execute(
                select(Designation).where(Designation.contract_id == contract.id, Designation.person_id == person.id)
            )
        ).scalar_one_or_none()
        if revoke:
            if row is None or row.revoked_at is not None:
                raise error_page(request, 400, "この方は指定されていません。")
            row.revoked_at = now
        elif row is None:
            ctx.session.add(Designation(contract_id=contract.id, person_id=person.id, role=role, designated_at=now))
        else:
            row.role, row.revoked_at, row.designated_at = role, None, now
        label = {"manager": "取扱責任者", "handler": "取扱者"}[role.value]
        await record(
            ctx.session,
            RegisterEntry(
                kind=RegisterKind.DESIGNATION_REVOKED if revoke else RegisterKind.DESIGNATION_ADDED,
                category=Category.ADMIN,
                content=f"{label}の{'指定取消し' if revoke else '指定'}（{person.name}）",
                contract_id=contract.public_id,
                handler_from=ctx.principal.person_name or ctx.principal.login,
                handler_to=person.name,
                details={"person": person.public_id, "role": role.value},
            ),
        )
        ctx.audit(
            AuditAction.DESIGNATION_REVOKE if revoke else AuditAction.DESIGNATION_ADD,
            object_type="contract",
            object_id=public_id,
            detail={"person": person.public_id, "role": role.value},
        )
        if ctx.deps.connectors:
            try:
                await sync_access(ctx.session, ctx.deps.connectors, contract)
            except ConnectorError as exc:
                # The designation stands (and commits); staff must see that an endpoint still lags behind.
                ctx.audit(
                    AuditAction.DESIGNATION_SYNC,
                    "failed",
                    object_type="contract",
                    object_id=public_id,
                    detail={"error": exc.reason_ja},
                )
                message = (
                    f"指定は記録しましたが、接続先の権限を更新できませんでした（{exc.reason_ja}）。"
                    "しばらくしてから同じ内容を再度記録してください。"
                )
                return ctx.render("error.html", {"message": message, "status": 502}, status=502)
        return see_other(f"/staff/contracts/{public_id}")


async def approval_post(request: web.Request) -> web.StreamResponse:
    """Record the ward's approval of a sub-contract; the date and time typed are Japan time, whatever the server's
    zone (``ledger.wareki.parse_jst``)."""
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.SUBCONTRACT_APPROVE, public_id)
        approved_by = str(form.get("approved_by", "")).strip()[:200]
        reference = str(form.get("approval_ref", "")).strip()[:200]
        try:
            approved_at = parse_jst(str(form.get("approved_at", "")))
        except JstParseError:
            raise error_page(request, 400, "承諾日時を入力してください（日本時間）。") from None
        try:
            await subcontracts.approve(
                ctx.session,
                contract,
                approved_by=approved_by,
                approved_at=approved_at,
                reference=reference,
                recorded_by=_staff_name(ctx),
            )
        except subcontracts.ApprovalError as exc:
            raise error_page(request, 400, str(exc)) from None
        ctx.audit(Action.SUBCONTRACT_APPROVE, object_type="contract", object_id=public_id, detail={"ref": reference})
        return see_other(f"/staff/contracts/{public_id}")


async def approval_revoke_post(request: web.Request) -> web.StreamResponse:
    """Revoke a sub-contract's approval at once: deliveries to the sub-contractor stop from now."""
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        form = await ctx.form()
        contract, _scope = await authorised_contract(ctx, Action.SUBCONTRACT_APPROVE, public_id)
        reason = str(form.get("reason", "")).strip()[:500]
        try:
            await subcontracts.revoke(ctx.session, contract, by=_staff_name(ctx), reason=reason, at=utcnow())
        except subcontracts.ApprovalError as exc:
            raise error_page(request, 400, str(exc)) from None
        ctx.audit(
            Action.SUBCONTRACT_APPROVE,
            object_type="contract",
            object_id=public_id,
            detail={"op": "revoke", "reason": reason},
        )
        return see_other(f"/staff/contracts/{public_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff", staff_home)
    app.router.add_get("/staff/contracts/{contract_id}", contract_page)
    app.router.add_post("/staff/contracts/{contract_id}/designations", designation_post)
    app.router.add_post("/staff/contracts/{contract_id}/approval", approval_post)
    app.router.add_post("/staff/contracts/{contract_id}/approval/revoke", approval_revoke_post)
    app.router.add_post("/staff/packages/{package_id}/revoke", revoke_post)
    app.router.add_post("/staff/packages/{package_id}/resend", resend_post)
