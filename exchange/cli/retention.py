"""``handover retention sweep``, ``handover certificates …`` and ``handover deletion-report`` (C-04).

The hub's own deletion (the sweep and its certificate, whose files are kept in the blob store) and the
contractors' deletion certificates, with the report that shows what each party of a contract family has erased
and certified.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from exchange.blobs.store import BlobStore
from exchange.cli.setup import CliState, run_duty, with_blobs, with_sessions, write_out, write_report
from exchange.retention import certificate_review
from exchange.retention import contractor_certificates as contractor_certs
from exchange.retention import hub_certificate_files as certificate_files
from ledger import reports
from ledger.models.base import utcnow
from ledger.models.contracts import Contract
from ledger.models.retention import ErasureMethod
from ledger.reports import deletion


def register(main: click.Group) -> None:
    @main.group("retention")
    def retention() -> None:
        """Retention deadlines and hub-side deletion."""

    @retention.command("sweep")
    @click.pass_obj
    def sweep(state: CliState) -> None:
        """Erase every package whose retention deadline has passed; issue the certificate when all are gone."""
        click.echo(f"retention.sweep: {run_duty(state, 'retention.sweep')}")

    @main.group("certificates")
    def certificates() -> None:
        """Deletion certificates: the hub's own and the contractors' (消去証明書)."""

    @certificates.command("request")
    @click.option("--contract", "code", required=True, help="Contract code; its sub-contracts are included.")
    @click.option("--due-days", type=click.IntRange(1, 365), default=30, show_default=True)
    @click.pass_obj
    def request(state: CliState, code: str, due_days: int) -> None:
        """Request certificates now from the contract's party and its sub-contractors."""

        async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
            async with sessions() as session, session.begin():
                contract = await session.scalar(select(Contract).where(Contract.code == code))
                if contract is None:
                    raise ValueError(f"契約コード「{code}」は登録されていません。")
                created, _ = await contractor_certs.request_certificates(
                    session, contract, utcnow(), reason="on_demand", due_days=due_days
                )
                return len(created)

        click.echo(f"{with_sessions(state, work)} request(s) created")

    @certificates.command("submit")
    @click.option("--request", "request_id", required=True)
    @click.option("--package", "packages", multiple=True, required=True, help="Package id (repeat).")
    @click.option("--method", type=click.Choice([m.value for m in ErasureMethod]), required=True)
    @click.option("--erased-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--media", required=True, help="The medium erased, e.g. 業務用PCの内蔵SSD.")
    @click.option("--media-type", required=True, help="HDD, SSD, USBメモリ, 紙 ...")
    @click.option("--media-serial", default="", help="The medium's serial number, where it has one.")
    @click.option("--method-detail", required=True, help="How, e.g. 全領域を1回上書き / 暗号消去.")
    @click.option("--tool", required=True, help="Tool used, with its version.")
    @click.option("--verification-method", required=True)
    @click.option("--verification-result", required=True)
    @click.option("--operator", required=True)
    @click.option("--verifier", required=True)
    @click.option("--scan", type=click.Path(exists=True, dir_okay=False), default=None)
    @click.pass_obj
    def submit(
        state: CliState,
        /,
        request_id: str,
        packages: tuple[str, ...],
        method: str,
        erased_on: datetime,
        scan: str | None,
        **facts: str,
    ) -> None:
        """Record a contractor's certificate (as handed in on paper) and show what is still missing."""
        form = contractor_certs.Submission(packages, ErasureMethod(method), erased_on.date(), scan_path=scan, **facts)

        async def work(sessions: async_sessionmaker[AsyncSession]) -> deletion.Coverage:
            async with sessions() as session, session.begin():
                return await contractor_certs.submit(session, request_id, form, utcnow())

        coverage = with_sessions(state, work)
        click.echo(
            "coverage complete"
            if coverage.complete
            else f"still missing: {len(coverage.missing)} package(s) from {', '.join(coverage.missing_parties)}"
        )

    @certificates.command("list")
    @click.option("--contract", "code", default=None, help="Only this contract (and its sub-contracts).")
    @click.pass_obj
    def list_requests(state: CliState, code: str | None) -> None:
        """Requests with their ids, and each submitted certificate's id and review (受理・差戻し)."""
        for line in with_sessions(state, lambda sessions: certificate_review.summary_lines(sessions, code)):
            click.echo(line)

    @certificates.command("accept")
    @click.argument("certificate_id")
    @click.option("--by", required=True, help="The member of staff's login or person code (a real account).")
    @click.option("--comment", default="")
    @click.pass_obj
    def accept(state: CliState, certificate_id: str, by: str, comment: str) -> None:
        """Accept (受理) a contractor's deletion certificate."""
        done = with_sessions(state, lambda s: certificate_review.review_as(s, certificate_id, by, comment, accept=True))
        click.echo(f"消去証明書 {certificate_id} を受理しました（{done}）")

    @certificates.command("return")
    @click.argument("certificate_id")
    @click.option("--by", required=True, help="The member of staff's login or person code (a real account).")
    @click.option("--reason", required=True, help="Why it is returned; the contractor reads it.")
    @click.pass_obj
    def return_certificate(state: CliState, certificate_id: str, by: str, reason: str) -> None:
        """Return (差戻し) a contractor's deletion certificate with a reason; the contractor submits again."""
        done = with_sessions(state, lambda s: certificate_review.review_as(s, certificate_id, by, reason, accept=False))
        click.echo(f"消去証明書 {certificate_id} を差し戻しました（{done}）")

    @certificates.command("approve")
    @click.argument("number")
    @click.option("--by", required=True, help="Staff member who validates the hub's certificate.")
    @click.option("--comment", default="")
    @click.pass_obj
    def approve(state: CliState, number: str, by: str, comment: str) -> None:
        """Validate an issued hub deletion certificate (its PDF in the blob store is rewritten to show it)."""
        with_blobs(
            state, lambda s, blobs: certificate_files.approve(s, blobs, number, by=by, comment=comment, at=utcnow())
        )
        click.echo(f"{number} validated by {by}")

    @certificates.command("export")
    @click.pass_obj
    def export(state: CliState) -> None:
        """Write the files of issued hub certificates that have none yet into the blob store (as the sweep does)."""
        written = with_blobs(state, certificate_files.export_missing)
        click.echo(f"保管領域に書き出した消去証明書：{len(written)}件 {' '.join(written)}".rstrip())
        legacy = state.settings.data_dir / "certificates"
        if legacy.is_dir():
            click.echo(f"旧フォルダ {legacy.resolve()} は使われなくなりました。書き出しの後は削除できます。")

    @certificates.command("download")
    @click.argument("certificate")
    @click.option("--file", "suffix", type=click.Choice(certificate_files.SUFFIXES), default="pdf", show_default=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def download(state: CliState, certificate: str, suffix: certificate_files.Suffix, out: Path) -> None:
        """Write a hub certificate's file (by number or id) from the blob store, after checking its hash."""

        async def work(sessions: async_sessionmaker[AsyncSession], blobs: BlobStore) -> bytes:
            async with sessions() as session:
                found = await certificate_files.find_issued(session, certificate)
            return await certificate_files.read_file(blobs, found, suffix)

        write_out(out, with_blobs(state, work))
        click.echo(f"{out} に書き出しました（{suffix}）")

    @main.command("deletion-report")
    @click.option("--contract", "code", required=True, help="Contract code; its sub-contracts are included.")
    @click.option("--format", "fmt", type=click.Choice(reports.FORMATS), required=True)
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
    @click.pass_obj
    def deletion_report(state: CliState, code: str, fmt: str, out: Path) -> None:
        """Outstanding and completed deletions and certificates of a contract and its sub-contracts."""
        write_report(state, lambda session: deletion.build(session, code), fmt, out)
