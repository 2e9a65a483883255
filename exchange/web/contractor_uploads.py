"""Contractor uploads through the portal: each file sealed as it arrives, virus-scanned, checked, then kept.

The steps for one submission (one kind, one or more files):

1. every file part is sealed into the blob store as it streams in (never plain), within the contract's kinds,
   suffixes and size limit (``exchange.inbound.rules``);
2. each file is read back from its sealed blob into clamd before the next part is read: one infected part
   refuses the whole submission, every file of it is deleted unread, and the infected one gets its register
   line (受付拒否);
3. tables of entered data are checked against the contract's items and the forbidden categories
   (``exchange.inbound.checks``) and by the program's plugin (``check_returned_records``);
4. each file becomes a row (受領, or 隔離 with the reason) with its register line and audit event.

Kind-specific follow-ups of a kept upload (e.g. parsing a print log) belong in :func:`inbound_post`, after
``_keep``, where a comment marks the place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from exchange.blobs.store import BlobError
from exchange.identity.audit_log import AuditAction
from exchange.identity.authorisation import Action, Decision
from exchange.inbound import uploads as inbound
from exchange.inbound.arrival import Arrival, examine
from exchange.inbound.rules import UploadRules, rules_for
from exchange.keys.sealing import UnsealError
from exchange.web import print_logs
from exchange.web.context import Page, error_page, page
from exchange.web.guards import authorised_contract, public_id_param, see_other, signed_in_person
from ledger.models.base import new_public_id
from ledger.models.contracts import Contract
from ledger.models.inbound import STATUS_LABELS, InboundFile, InboundStatus
from ledger.models.parties import Person
from ledger.registers.handover import record

# More files than this in one submission is refused: each costs a scan and a row, and a form has no need.
MAX_FILES = 20


async def _uploads(ctx: Page, contract: Contract) -> list[InboundFile]:
    rows = await ctx.session.execute(
        select(InboundFile).where(InboundFile.contract_id == contract.id).order_by(InboundFile.id.desc())
    )
    return list(rows.scalars())


def _render(
    ctx: Page, contract: Contract, rules: UploadRules, uploads: list[InboundFile], error: str | None, status: int
) -> web.Response:
    context = {
        "contract": contract,
        "kinds": {kind: label for kind, label in inbound.KINDS.items() if kind in rules.suffixes},
        "all_kinds": inbound.KINDS,
        "accepted": rules.describe(),
        "suffixes": ",".join(sorted({s for found in rules.suffixes.values() for s in found})),
        "statuses": STATUS_LABELS,
        "uploads": uploads,
        "error": error,
        "limit_mb": rules.limit // (1024 * 1024),
    }
    return ctx.render("inbound.html", context, status=status)


async def inbound_page(request: web.Request) -> web.StreamResponse:
    public_id = public_id_param(request, "contract_id")
    async with page(request) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INBOUND_UPLOAD, public_id)
        rules = rules_for(contract, ctx.deps.upload_limit)
        return _render(ctx, contract, rules, await _uploads(ctx, contract), None, 200)


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(256 * 1024):
        yield chunk


class _Refusal(Exception):
    """Ends a submission: every file sealed so far is deleted, ``response`` is answered (and committed)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def inbound_post(request: web.Request) -> web.StreamResponse:
    """Multipart fields in order: csrf_token, kind, then one or more file parts (the template keeps that order).

    aiohttp hands over an RFC 5987 ``filename*`` still percent-encoded, hence the ``unquote``.
    """
    public_id = public_id_param(request, "contract_id")
    async with page(request, view=False) as ctx:
        contract, _scope = await authorised_contract(ctx, Action.INBOUND_UPLOAD, public_id)
        if ctx.deps.blobs is None or ctx.deps.keyring is None:
            raise error_page(request, 503, "提出の受付は現在利用できません。")
        if not request.content_type.startswith("multipart/"):
            raise error_page(request, 400, "ファイルを選択して送信してください。")
        rules = rules_for(contract, ctx.deps.upload_limit)
        person = await signed_in_person(ctx)
        stored: list[inbound.Stored] = []
        kept = False
        try:
            kind = await _receive(ctx, contract, person, rules, stored)
            arrivals = [await examine(ctx.session, ctx.deps, contract, kind, item) for item in stored]
            for item in stored:
                # A print log is parsed and matched on arrival (C-17); one in the wrong shape is not taken.
                chunks = inbound.read_stored(ctx.deps.blobs, ctx.deps.keyring, item)
                wrong_log = await print_logs.take_upload(ctx, contract, person, kind, item.name, chunks, item.upload_id)
                if wrong_log is not None:
                    raise _Refusal(await _refused(ctx, contract, rules, wrong_log, 422))
            kept = True
        except _Refusal as refusal:
            return refusal.response
        finally:
            if not kept:
                for item in stored:
                    await inbound.remove(ctx.deps.blobs, item)
        for arrival in arrivals:
            await _keep(ctx, contract, person, arrival)
        return see_other(f"/contracts/{contract.public_id}/inbound")


async def _receive(
    ctx: Page, contract: Contract, person: Person, rules: UploadRules, stored: list[inbound.Stored]
) -> str:
    """Seal and scan every file part of the request into ``stored``; the submission's kind."""
    assert ctx.deps.blobs is not None and ctx.deps.keyring is not None
    reader = await ctx.request.multipart()
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise error_page(ctx.request, 400, "不正な要求です。")
        if part.name != "file":
            fields[part.name or ""] = (await part.text())[:200]
            continue
        kind = fields.get("kind", "")
        if fields.get("csrf_token") != ctx.csrf_token or kind not in inbound.KINDS:
            await ctx.deny(
                AuditAction.CSRF_REJECTED, Decision(False, "csrf", "不正な要求です。画面を開き直してください。")
            )
        if kind not in rules.suffixes:
            raise _Refusal(await _refused(ctx, contract, rules, rules.kind_refusal(kind), 400))
        if len(stored) == MAX_FILES:
            message = f"一度に提出できるファイルは{MAX_FILES}件までです。分けて提出してください。"
            raise _Refusal(await _refused(ctx, contract, rules, message, 400))
        try:
            item = await inbound.seal(
                ctx.deps.blobs,
                ctx.deps.keyring.current,
                new_public_id(),
                unquote(part.filename or ""),
                _chunks(part),
                suffixes=rules.suffixes[kind],
                limit=rules.limit,
            )
        except inbound.UploadRefused as refused:
            reason = f"{refused.reason_ja}（{inbound.KINDS[kind]}として受け付けるもの: {rules.describe()}）"
            raise _Refusal(await _refused(ctx, contract, rules, reason, 400)) from None
        stored.append(item)
        await _scan(ctx, contract, person, rules, kind, item, len(stored))
    if not stored:
        raise _Refusal(await _refused(ctx, contract, rules, "ファイルが選択されていません。", 400))
    return fields["kind"]


async def _refused(ctx: Page, contract: Contract, rules: UploadRules, reason: str, status: int) -> web.Response:
    ctx.audit(
        Action.INBOUND_UPLOAD, "failed", object_type="contract", object_id=contract.public_id, detail={"reason": reason}
    )
    return _render(ctx, contract, rules, await _uploads(ctx, contract), reason, status)


async def _scan(
    ctx: Page, contract: Contract, person: Person, rules: UploadRules, kind: str, item: inbound.Stored, nth: int
) -> None:
    """The intake checks' virus scan (C-12) of one sealed upload, read back from the store in plain into clamd.

    Fail closed: when the scanner is configured but down, the submission is refused, never accepted unchecked.
    """
    scanner, blobs, keyring = ctx.deps.scanner, ctx.deps.blobs, ctx.deps.keyring
    if scanner is None:
        return
    assert blobs is not None and keyring is not None
    try:
        found = await scanner.scan_stream(inbound.read_stored(blobs, keyring, item))
    except (OSError, UnsealError, BlobError) as exc:
        ctx.audit(
            Action.INBOUND_UPLOAD,
            "failed",
            object_type="inbound_file",
            object_id=item.upload_id,
            detail={"reason": "scanner.unavailable", "error": str(exc)},
        )
        message = "ウイルス検査ができないため、現在は提出を受け付けられません。時間をおいて再度提出してください。"
        raise _Refusal(_render(ctx, contract, rules, [], message, 503)) from None
    if found is None:
        return
    ctx.audit(
        AuditAction.INBOUND_INFECTED,
        "denied",
        object_type="inbound_file",
        object_id=item.upload_id,
        detail={"signature": found, "sha256": item.sha256, "kind": kind},
    )
    await record(ctx.session, inbound.refused_entry(contract.public_id, person.name, kind, item, found))
    others = "同時に送信された他のファイルも受け付けていません。" if nth > 1 else ""
    message = (
        f"ウイルスが検出されたため、提出を受け付けませんでした（{item.name}: {found}）。"
        f"ファイルは削除しました。{others}情報システム担当に連絡してください。"
    )
    raise _Refusal(_render(ctx, contract, rules, [], message, 422))


async def _keep(ctx: Page, contract: Contract, person: Person, arrival: Arrival) -> InboundFile:
    """The row, register line and audit event of one scanned upload: 受領, or 隔離 with its reason."""
    item = arrival.stored
    upload = InboundFile(
        public_id=item.upload_id,
        contract_id=contract.id,
        person_id=person.id,
        kind=arrival.kind,
        file_name=item.name,
        blob_key=item.key,
        size=item.size,
        sha256=item.sha256,
        sealed=True,
        status=InboundStatus.QUARANTINED if arrival.reason_ja else InboundStatus.RECEIVED,
        reason_ja=arrival.reason_ja,
        records=arrival.records,
        findings=list(arrival.findings) or None,
    )
    ctx.session.add(upload)
    await record(ctx.session, arrival.register_entry(contract.public_id, person.name))
    ctx.audit(
        Action.INBOUND_UPLOAD,
        object_type="inbound_file",
        object_id=item.upload_id,
        detail={"kind": arrival.kind, "status": upload.status.value, "records": arrival.records},
    )
    return upload


def add_routes(app: web.Application) -> None:
    app.router.add_get("/contracts/{contract_id}/inbound", inbound_page)
    app.router.add_post("/contracts/{contract_id}/inbound", inbound_post)
