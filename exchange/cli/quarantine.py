"""``handover quarantine list|show|release|discard|download``: ward staff and the drops the intake set aside.

The member of staff is named by person code (``--by``) and must belong to the section owning the drop's route;
each decision is a register line naming them and an audit event, as on the staff page.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import click
from sqlalchemy.ext.asyncio import AsyncSession

from exchange.admin import bootstrap
from exchange.blobs.store import BlobError
from exchange.cli.setup import CliState, blob_store, fail, find_person, run
from exchange.identity import audit_log
from exchange.identity.authorisation import Action
from exchange.intake import quarantine_decisions as decisions
from exchange.keys import sources
from exchange.keys.sealing import UnsealError
from ledger.registers import handlers
from ledger.wareki import format_jst

BY = click.option("--by", "staff_code", required=True, help="Person code of the staff member (owning section).")


async def _held(session: AsyncSession, intake_id: str, *, decided: bool = False) -> decisions.HeldDrop:
    drop = await decisions.find_held(session, intake_id, decided=decided)
    if drop is None:
        raise decisions.QuarantineError(f"隔離中のファイル「{intake_id}」は見つかりません（既に処理済みのおそれ）。")
    return drop


async def _staff(session: AsyncSession, drop: decisions.HeldDrop, code: str, action: Action) -> str:
    """The member of staff as register lines name them; the audit event of the action is added here."""
    staff = await handlers.section_staff(session, drop.section, code)
    person = await find_person(session, code)
    audit_log.record(
        session,
        audit_log.Actor(person_id=person.id, party_id=person.party_id),
        None,
        action,
        "allowed",
        object_type="intake",
        object_id=drop.intake.public_id,
        detail={"by": staff.label, "via": "cli"},
    )
    return staff.label


def _line(drop: decisions.HeldDrop) -> str:
    intake = drop.intake
    sealed = "" if intake.sealed_key else "（暗号化されていません）"
    return (
        f"{intake.public_id}  {format_jst(intake.created_at)}  {drop.route.code}  {intake.size:,} バイト  "
        f"{intake.file_name}{sealed}\n    理由: {intake.reason_ja or '—'}"
    )


async def _write_original(chunks: AsyncIterator[bytes], out: Path) -> None:
    """Decrypt to a new file (never over an existing one), removed again if the sealed blob does not authenticate."""
    target = await asyncio.to_thread(_create_new, out)
    try:
        async for chunk in chunks:
            await asyncio.to_thread(target.write, chunk)
        await asyncio.to_thread(target.close)
    except BaseException:
        await asyncio.to_thread(target.close)
        await asyncio.to_thread(out.unlink, True)
        raise


def _create_new(out: Path) -> BinaryIO:
    return os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def register(main: click.Group) -> None:
    @main.group("quarantine")
    def group() -> None:
        """Quarantined drops (隔離されたファイル): list, show, release, discard, download."""

    @group.command("list")
    @click.option("--section", default=None, help="Only this section's routes (e.g. 生活福祉課).")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def list_(state: CliState, section: str | None, as_json: bool) -> None:
        """Drops waiting for a decision, newest first: received (Japan time), route, size, file, reason."""

        async def go() -> list[decisions.HeldDrop]:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                return await decisions.held_drops(session, section)

        drops = run(go())
        if as_json:
            click.echo(json.dumps(decisions.summary(drops), ensure_ascii=False, indent=2))
        elif not drops:
            click.echo("隔離中のファイルはありません。")
        for drop in [] if as_json else drops:
            click.echo(_line(drop))

    @group.command("show")
    @click.argument("intake_id")
    @click.pass_obj
    def show(state: CliState, intake_id: str) -> None:
        """One quarantined drop, also after a decision (who released or discarded it, when); never its content."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine)() as session:
                drop = await _held(session, intake_id, decided=True)
                return json.dumps(decisions.summary([drop])[0], ensure_ascii=False, indent=2)

        try:
            click.echo(run(go()))
        except decisions.QuarantineError as exc:
            fail(exc.reason_ja)

    @group.command("release")
    @click.argument("intake_id")
    @BY
    @click.pass_obj
    def release(state: CliState, intake_id: str, staff_code: str) -> None:
        """Re-queue the drop after its cause was fixed: the running hub checks it again from the start."""

        async def go() -> str:
            async with bootstrap.open_engine(state.settings) as engine, bootstrap.sessions(engine).begin() as session:
                drop = await _held(session, intake_id)
                by = await _staff(session, drop, staff_code, Action.QUARANTINE_RELEASE)
                queued = await decisions.release(session, drop, by)
                return f"{drop.intake.file_name} を再受付しました（新しい受付ID: {queued.public_id}）。"

        try:
            click.echo(run(go()))
        except (decisions.QuarantineError, handlers.NotAllowedHandler) as exc:
            fail(getattr(exc, "reason_ja", str(exc)))

    @group.command("discard")
    @click.argument("intake_id")
    @BY
    @click.option("--reason", required=True, help="Why it is discarded (kept in the register).")
    @click.pass_obj
    def discard(state: CliState, intake_id: str, staff_code: str, reason: str) -> None:
        """Delete the sealed drop for good (crypto-erase), and record it."""
        if not reason.strip():
            fail("破棄の理由を入力してください。")

        async def go() -> str:
            async with (
                blob_store(state.settings) as blobs,
                bootstrap.open_engine(state.settings) as engine,
                bootstrap.sessions(engine).begin() as session,
            ):
                drop = await _held(session, intake_id)
                by = await _staff(session, drop, staff_code, Action.QUARANTINE_DISCARD)
                await decisions.discard(session, blobs, drop, by, reason.strip()[:500])
                return f"{drop.intake.file_name} を破棄しました。"

        try:
            click.echo(run(go()))
        except (decisions.QuarantineError, handlers.NotAllowedHandler) as exc:
            fail(getattr(exc, "reason_ja", str(exc)))

    @group.command("download")
    @click.argument("intake_id")
    @BY
    @click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="New file to write.")
    @click.pass_obj
    def download(state: CliState, intake_id: str, staff_code: str, out: Path) -> None:
        """Write the drop's original bytes to OUT (a new file), recorded in the register."""

        async def go() -> str:
            keyring = await asyncio.to_thread(sources.hub_keyring, state.settings)
            async with (
                blob_store(state.settings) as blobs,
                bootstrap.open_engine(state.settings) as engine,
                bootstrap.sessions(engine)() as session,
            ):
                drop = await _held(session, intake_id)
                by = await _staff(session, drop, staff_code, Action.QUARANTINE_DOWNLOAD)
                sealed = await decisions.record_download(session, blobs, drop, by)
                try:
                    await _write_original(decisions.original(blobs, sealed, keyring, drop), out)
                except FileExistsError:
                    raise decisions.QuarantineError(f"{out} は既にあります。別の名前を指定してください。") from None
                except (UnsealError, BlobError):
                    raise decisions.QuarantineError(
                        "隔離ファイルを復号できません（破損または改ざんのおそれ）。"
                    ) from None
                try:
                    await session.commit()
                except BaseException:
                    await asyncio.to_thread(out.unlink, True)  # no copy stays out without its register line
                    raise
                return f"{drop.intake.file_name} の原本を {out} に書き出しました（記録しました）。"

        try:
            click.echo(run(go()))
        except (decisions.QuarantineError, handlers.NotAllowedHandler) as exc:
            fail(getattr(exc, "reason_ja", str(exc)))
