"""``handover inbound …``: what contractors sent back, for ward staff at the command line.

``list`` and ``show`` give who sent what, when, kind, size, records and state; ``fetch`` writes the plain content
to a file (private, 0600) for a named member of staff of the owning section, and records it (register line and
audit event) in the same transaction; ``release`` and ``discard`` decide on a quarantined upload;
``return-received`` and ``return-notice`` are the receipt of a return-folder ZIP and its printed password
notice. People are person codes, never typed names (``ledger.registers.handlers``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from exchange import hub
from exchange.blobs.store import BlobError
from exchange.cli.setup import CliState, fail, find_person, run
from exchange.identity import audit_log as audit
from exchange.identity.authorisation import Action
from exchange.inbound import inbox, return_passwords, uploads
from exchange.keys.sealing import SealingError
from exchange.passwords.release import PasswordRefused
from ledger.files import AtomicFile, write_atomic
from ledger.models.contracts import Contract
from ledger.models.inbound import InboundStatus
from ledger.models.parties import Person
from ledger.models.return_folders import ReturnDelivery
from ledger.registers import handlers
from ledger.registers.handover import record
from ledger.wareki import format_jst
from policies.channels import PasswordChannel


async def _item(session: AsyncSession, upload_id: str) -> inbox.InboxItem:
    found = await inbox.item(session, upload_id)
    if found is None:
        fail(f"no upload {upload_id}")
    return found


async def _staff(session: AsyncSession, found: inbox.InboxItem, code: str) -> tuple[handlers.Handler, audit.Actor]:
    """The member of staff ``code`` of the owning section, as register lines and audit events name them."""
    try:
        staff = await handlers.ward_staff(session, found.contract, code)
    except handlers.NotAllowedHandler as refused:
        fail(str(refused))
    person = await find_person(session, code)
    return staff, audit.Actor(person_id=person.id, party_id=person.party_id)


async def _write(out: Path, found: inbox.InboxItem, services: hub.HubServices) -> int:
    """Stream the plain content into ``out`` (appearing only complete); returns the bytes written."""
    await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
    pending = await asyncio.to_thread(AtomicFile, out)
    written = 0
    try:
        async for chunk in uploads.read_upload(services.blobs, services.keyring, found.upload):
            await asyncio.to_thread(pending.file.write, chunk)
            written += len(chunk)
    except BaseException:
        await asyncio.to_thread(pending.discard)
        raise
    await asyncio.to_thread(pending.commit)
    return written


def register(main: click.Group) -> None:
    @main.group("inbound")
    def inbound_group() -> None:
        """What contractors sent back: list, show, fetch, release or discard."""

    @inbound_group.command("list")
    @click.option("--section", default=None, help="Only this section's contracts (e.g. 生活福祉課).")
    @click.option(
        "--status",
        type=click.Choice([s.value for s in InboundStatus]),
        default=None,
        help="Only uploads in this state.",
    )
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def list_(state: CliState, section: str | None, status: str | None, as_json: bool) -> None:
        """Uploads, newest first: when, contract, sender, kind, file, size, records, state."""

        async def go() -> list[dict[str, object]]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                wanted = InboundStatus(status) if status else None
                found = await inbox.items(session, section=section, status=wanted)
                return [{**i.summary(), "uploaded_at_jst": format_jst(i.upload.uploaded_at)} for i in found]

        rows = run(go())
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for row in rows:
            records = row["records"] if row["records"] is not None else "—"
            click.echo(
                f"{row['id']}  {row['uploaded_at_jst']}  {row['status_label']}  {row['contract']}  {row['sender']}  "
                f"{row['kind_label']}  {row['file_name']}  {row['size']}バイト  {records}件"
            )

    @inbound_group.command("show")
    @click.argument("upload_id")
    @click.pass_obj
    def show(state: CliState, upload_id: str) -> None:
        """One upload in full (never its content)."""

        async def go() -> dict[str, object]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                found = await _item(session, upload_id)
                return {**found.summary(), "uploaded_at_jst": format_jst(found.upload.uploaded_at)}

        click.echo(json.dumps(run(go()), ensure_ascii=False, indent=2))

    @inbound_group.command("fetch")
    @click.argument("upload_id")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member taking it.")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def fetch(state: CliState, upload_id: str, staff_code: str, out: Path) -> None:
        """Write an upload's content to OUT (0600) and record who took it (a quarantined one too, to review it)."""

        async def go() -> int:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                found = await _item(session, upload_id)
                staff, actor = await _staff(session, found, staff_code)
                try:
                    inbox.check_takeable(found.upload, reviewer=True)
                except inbox.InboxRefused as refused:
                    fail(f"refused: {refused.reason_ja}")
                await record(session, inbox.fetched_entry(found, staff.label, "cli"))
                detail = {"status": found.upload.status.value, "size": found.upload.size, "channel": "cli"}
                audit.record(
                    session,
                    actor,
                    None,
                    Action.INBOUND_FETCH,
                    "allowed",
                    object_type="inbound_file",
                    object_id=found.upload.public_id,
                    detail=detail,
                )
                try:
                    return await _write(out, found, services)
                except SealingError:
                    fail("the stored upload does not open (tampered with, or not this upload's); nothing was written")
                except BlobError as exc:
                    fail(f"the stored upload cannot be read ({exc}); nothing was written")

        written = run(go())
        click.echo(f"wrote {out} ({written} bytes); the hand-over is recorded")

    def _decide(state: CliState, upload_id: str, staff_code: str, reason: str, op: str) -> None:
        async def go() -> None:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                found = await _item(session, upload_id)
                staff, actor = await _staff(session, found, staff_code)
                try:
                    if op == "release":
                        await inbox.release(session, found, by=staff.label, reason=reason)
                    else:
                        await inbox.discard(session, services.blobs, found, by=staff.label, reason=reason)
                except inbox.InboxRefused as refused:
                    fail(f"refused: {refused.reason_ja}")
                audit.record(
                    session,
                    actor,
                    None,
                    Action.INBOUND_DECIDE,
                    "allowed",
                    object_type="inbound_file",
                    object_id=found.upload.public_id,
                    detail={"op": op, "reason": reason.strip()[:500], "channel": "cli"},
                )

        run(go())

    @inbound_group.command("release")
    @click.argument("upload_id")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member deciding.")
    @click.option("--reason", required=True, help="What was checked (in Japanese; goes on the register).")
    @click.pass_obj
    def release(state: CliState, upload_id: str, staff_code: str, reason: str) -> None:
        """Accept a quarantined upload after review; it goes on to the return folder like any accepted one."""
        _decide(state, upload_id, staff_code, reason, "release")
        click.echo("released: the upload is accepted")

    @inbound_group.command("discard")
    @click.argument("upload_id")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member deciding.")
    @click.option("--reason", required=True, help="Why (in Japanese; goes on the register).")
    @click.pass_obj
    def discard(state: CliState, upload_id: str, staff_code: str, reason: str) -> None:
        """Discard a quarantined upload: its sealed file is deleted, the row and the register keep the record."""
        _decide(state, upload_id, staff_code, reason, "discard")
        click.echo("discarded: the sealed file is deleted")

    @inbound_group.command("return-received")
    @click.argument("upload_id")
    @click.option("--by", "staff_code", required=True, help="Person code of the ward staff member who found it.")
    @click.pass_obj
    def return_received(state: CliState, upload_id: str, staff_code: str) -> None:
        """Record that the upload's ZIP arrived in the return folder (the occasion its password may follow)."""

        async def go() -> bool:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                found = await _item(session, upload_id)
                await _staff(session, found, staff_code)
                if found.delivery is None:
                    fail("this upload has not been delivered into a return folder")
                return await return_passwords.acknowledge(
                    session, found.delivery, await find_person(session, staff_code), found.contract
                )

        click.echo("receipt recorded" if run(go()) else "receipt was already recorded; the first one stands")

    @inbound_group.command("return-notice")
    @click.argument("upload_id")
    @click.option("--to", "staff_code", required=True, help="Person code of the ward staff member it is for.")
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def return_notice(state: CliState, upload_id: str, staff_code: str, out: Path) -> None:
        """Print the password of the upload's return-folder ZIP as a notice (PDF), if the split rule allows it."""

        async def go() -> tuple[ReturnDelivery, Contract, Person, str, str]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                found = await _item(session, upload_id)
                await _staff(session, found, staff_code)
                if found.delivery is None:
                    fail("this upload has not been delivered into a return folder")
                person = await find_person(session, staff_code)
                try:
                    password = await return_passwords.release(
                        session, found.delivery, person, PasswordChannel.NOTICE, keyring=services.keyring
                    )
                except PasswordRefused as refused:
                    await session.commit()  # the refusal itself is on the record
                    fail(f"refused: {refused.decision.reason_ja}")
                await session.commit()
                return found.delivery, found.contract, person, found.program.section, password

        delivery, contract, person, section, password = run(go())
        # Rendered outside the event loop: the PDF library reads its fonts with blocking calls.
        pdf = return_passwords.notice_pdf(delivery, contract, person, section, password)
        write_atomic(out, pdf)  # private (0600) from the start: the notice carries the password
        click.echo(f"notice written to {out}; keep it apart from the return folder, then destroy it")
