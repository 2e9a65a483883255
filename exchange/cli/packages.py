"""``handover package`` (one file by hand) and ``handover packages …`` (list, show, acknowledge a receipt, and
``adopt-store``: move packages packed before the blob store into it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from exchange import hub
from exchange.blobs.registry import build_blob_store
from exchange.cli.setup import CliState, fail, find_package, find_person, run, with_sessions
from exchange.delivery import portal_downloads, store_adoption
from exchange.delivery.package_state import PackageRefused
from ledger.models import Contract, IntakeStatus, Package, PackageStatus, Route
from ledger.models.base import utcnow
from ledger.registers import handlers


def _summary(package: Package) -> dict[str, object]:
    return {
        "id": package.public_id,
        "contract": package.contract.code,
        "recipient": package.contract.party.name,
        "status": package.status.value,
        "zip_name": package.zip_name,
        "size": package.size,
        "sha256": package.sha256,
        "delivered_via": package.delivered_via,
        "created_at": package.created_at.isoformat(),
        "delivered_at": package.delivered_at.isoformat() if package.delivered_at else None,
        "acknowledged_at": package.acknowledged_at.isoformat() if package.acknowledged_at else None,
        "downloads": f"{package.download_count}/{package.download_limit}",
        "content": package.content,
    }


def register(main: click.Group) -> None:
    @main.command("package")
    @click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
    @click.option("--route", "route_code", required=True, help="Route code (see 'handover routes list').")
    @click.pass_obj
    def package_(state: CliState, file: Path, route_code: str) -> None:
        """Check, pack and deliver one file by hand, as if dropped in the route's folder (the file is kept)."""

        async def go() -> None:
            async with hub.services(state.settings) as services:
                async with services.sessions() as session:
                    route = (await session.execute(select(Route).where(Route.code == route_code))).scalar_one_or_none()
                if route is None:
                    fail(f"no route {route_code}")
                row_id = await services.pipeline.enqueue_manual(route, file)
                with click.progressbar(length=4, label="処理中", show_pos=True) as bar:
                    row = await services.pipeline.run_to_end(row_id)
                    bar.update(4)
                async with services.sessions() as session:
                    made = list((await session.execute(select(Package).where(Package.intake_id == row_id))).scalars())
                    ids = [p.public_id for p in made]
            if row.status == IntakeStatus.QUARANTINED:
                fail(f"refused: {row.reason_ja}")
            if any(p.status == PackageStatus.FAILED for p in made):
                click.echo(f"delivery failed and waits for staff (resend on the staff page): {row.reason_ja}")
            elif row.status != IntakeStatus.FINISHED:
                click.echo(f"not yet delivered ({row.reason_ja or 'retrying'}); the running hub will retry.")
            for public_id in ids:
                click.echo(f"package {public_id}")

        run(go())

    @main.group("packages")
    def packages() -> None:
        """Encrypted packages."""

    @packages.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def list_(state: CliState, as_json: bool) -> None:
        """Every package with its contract, recipient and state."""

        async def go() -> list[dict[str, object]]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                rows = await session.execute(
                    select(Package)
                    .options(selectinload(Package.contract).selectinload(Contract.party))
                    .order_by(Package.id)
                )
                return [_summary(p) for p in rows.scalars()]

        items = run(go())
        if as_json:
            click.echo(json.dumps(items, ensure_ascii=False, indent=2))
            return
        for item in items:
            click.echo(f"{item['id']}  {item['status']:<9}  {item['contract']}  {item['zip_name']}")

    @packages.command("adopt-store")
    @click.pass_obj
    def adopt_store(state: CliState) -> None:
        """Move packages packed before the blob store (DATA_DIR/store) into it; run once after 'db upgrade'.

        Run it on each host whose data directory holds such packages; running it again is harmless.
        """

        async def work(sessions: async_sessionmaker[AsyncSession]) -> store_adoption.Adoption:
            blobs = await asyncio.to_thread(build_blob_store, state.settings)
            try:
                return await store_adoption.adopt_store(sessions, blobs, state.settings.data_dir / "store")
            finally:
                await blobs.close()

        done = with_sessions(state, work)
        click.echo(f"保管領域へ移したパッケージ: {len(done.adopted)}件")
        for path in done.mismatched:
            click.echo(f"記録と内容が一致しないため移していません（確認してください）: {path}")
        for path in done.unknown:
            click.echo(f"対応するパッケージがない（または消去済みの）ため移していません: {path}")

    @packages.command("show")
    @click.argument("package_id")
    @click.pass_obj
    def show(state: CliState, package_id: str) -> None:
        """One package in full (never its password)."""

        async def go() -> dict[str, object]:
            async with hub.services(state.settings) as services, services.sessions() as session:
                return _summary(await find_package(session, package_id))

        click.echo(json.dumps(run(go()), ensure_ascii=False, indent=2))

    @packages.command("acknowledge")
    @click.argument("package_id")
    @click.option(
        "--by", "person_code", required=True, help="Person code of the designated person who confirmed receipt."
    )
    @click.pass_obj
    def acknowledge(state: CliState, package_id: str, person_code: str) -> None:
        """Record a receipt the recipient confirmed outside the portal (by phone or in person).

        The portal's own rule applies: only a person designated on the package's contract, only while the
        package's state allows it, and the first acknowledgement stands.
        """

        async def go() -> bool:
            async with hub.services(state.settings) as services, services.sessions.begin() as session:
                package = await find_package(session, package_id)
                try:
                    await handlers.designated(session, package.contract, person_code)
                except handlers.NotAllowedHandler as refused:
                    fail(str(refused))
                person = await find_person(session, person_code)
                try:
                    return await portal_downloads.acknowledge(
                        session,
                        package,
                        person,
                        package.contract.public_id,
                        now=utcnow(),
                        via=portal_downloads.ReceiptVia.STAFF,
                    )
                except PackageRefused as refused:
                    fail(f"refused: {refused.reason_ja}")

        if run(go()):
            click.echo("receipt recorded")
        else:
            click.echo("receipt was already recorded; the first acknowledgement stands")
