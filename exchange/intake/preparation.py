"""From one dropped file to one sealed package per recipient: every check, minimisation and packing.

All refusals are ``PolicyRefusal`` (the caller quarantines); I/O failures are ``OSError`` (the caller retries).
Blocking work runs in worker threads so the event loop keeps serving the portal.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import stat
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from exchange.admin import sensitive_approvals
from exchange.blobs.store import BlobMissing
from exchange.contract_facts import contract_facts
from exchange.delivery.package_blobs import package_key
from exchange.intake.sealed_quarantine import SealedSource
from exchange.keys import sealing
from exchange.packing import packer as packing
from exchange.passwords.generate import new_package_password
from ledger.models import Contract, IntakeFile, Package, PackageStatus, Program, RouteTarget
from ledger.models.base import new_public_id, utcnow
from ledger.registers.handover import Category, RegisterEntry, RegisterKind
from ledger.wareki import jst_date
from policies import rules
from policies.errors import PolicyRefusal, RefusalCode
from policies.minimise import MinimiseResult, RecipientItems, minimise
from policies.pluginmanager import HandoverPlugins, ProgramHooks
from policies.screening import ScreeningPolicy


class VirusScanner(Protocol):
    async def scan(self, path: Path) -> str | None:
        """The signature name when infected, None when clean; raises OSError when the scanner is down."""


@dataclass(frozen=True)
class PreparedPackage:
    package: Package
    contract: Contract
    content: str
    quantity: Mapping[str, int]
    packed: Path  # the ZIP in the claim's folder, until the pipeline has put it in the blob store

    def register_entry(self) -> RegisterEntry:
        return RegisterEntry(
            kind=RegisterKind.PACKAGE_SEALED,
            category=Category.PROVIDED,
            content=self.content,
            contract_id=self.contract.public_id,
            package_id=self.package.public_id,
            handler_from="system",
            quantity=self.quantity,
            channel=self.package.connector,
            details={"zip_sha256": self.package.sha256, "zip_size": self.package.size, "stage": "暗号化・封緘"},
        )


@dataclass(frozen=True)
class Prepared:
    source_sha256: str
    packages: Sequence[PreparedPackage]


def _unusable(reason: str) -> PolicyRefusal:
    return PolicyRefusal(RefusalCode.UNUSABLE_FILE, reason)


def take_in(source: Path, copy: Path, queued: str | None = None) -> str:
    """Open ``source`` once, never following a link, and copy it into the hub's private ``copy``.

    Every later step (scan, check, minimise, pack) reads only the private copy, so swapping the dropped file for
    a link or another file after this open cannot change what is hashed, scanned and packed. Returns the sha256
    of exactly the copied bytes. The caller deletes the copy once packed. ``queued`` is the drop's identity
    (``device:inode:size:mtime_ns:…``) taken when it was queued: another file renamed over it since is refused.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise _unusable("ファイルが見つかりません（処理前に移動または削除されました）。") from None
    except PermissionError:
        raise _unusable("ファイルを読み取る権限がありません。フォルダの権限を確認してください。") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _unusable("シンボリックリンクは受け付けません。ファイルそのものを置いてください。") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _unusable("通常のファイルではありません。")
        if queued is not None and queued.split(":")[:4] != [
            str(status.st_dev),
            str(status.st_ino),
            str(status.st_size),
            str(status.st_mtime_ns),
        ]:
            raise _unusable("受付後にファイルが差し替えられたため、受け付けません。置き直してください。")
        if status.st_size == 0:
            raise _unusable("ファイルが空です（0バイト）。抽出をやり直してください。")
        os.set_blocking(handle.fileno(), True)
        digest = hashlib.sha256()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(copy, flags, 0o600), "wb") as out:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
    if status.st_nlink != 1:
        # Refused only now: the private copy holds what was read, so the quarantine seals it from there.
        raise _unusable(
            "ハードリンクされたファイルは受け付けません（他の場所のファイルと同一のため）。"
            "ファイルをコピーして置き直してください。"
        )
    return digest.hexdigest()


class Preparer:
    def __init__(
        self,
        connectors: Mapping[str, Connector],
        keyring: sealing.Keyring,
        plugins: HandoverPlugins,
        *,
        scanner: VirusScanner | None = None,
        deflate_level: int = 6,
    ) -> None:
        self.connectors = connectors
        self.keyring = keyring
        self.plugins = plugins
        self.scanner = scanner
        self.deflate_level = deflate_level

    async def prepare(
        self,
        sessions: async_sessionmaker[AsyncSession],
        intake: IntakeFile,
        source: Path,
        work: Path,
        *,
        sealed_source: SealedSource | None = None,
        seal_refused: Callable[[Path], Awaitable[None]] | None = None,
    ) -> Prepared:
        """Check, minimise and pack ``source`` into ``work``, the claim's own new folder.

        ``sealed_source`` (a released quarantined drop) is read instead of ``source``, whose name still names
        the file. On a refusal, ``seal_refused`` is given the private copy (when one was made) before it is
        deleted: the quarantine keeps what was read, sealed, and nothing re-reads the watched folder.
        The database is read in short sessions of its own: no connection is held while files are copied,
        minimised and packed (a database restart meanwhile costs nothing).
        """
        # The folder is new (one per claim): a retry never reuses, nor removes, the folder of another claim.
        await asyncio.to_thread(work.mkdir, parents=True)
        name = self._safe_name(source.name)
        # The private copy keeps the dropped name's suffix (the table reader goes by it); it is deleted below,
        # whatever happens (a crash leaves it in the claim's folder, which the next claim's sweep removes).
        private = work / f"source{Path(name).suffix}"
        try:
            return await self._prepare(sessions, intake, source, private, name, work, sealed_source)
        except PolicyRefusal:
            if seal_refused is not None and await asyncio.to_thread(private.exists):
                await seal_refused(private)
            raise
        finally:
            await asyncio.to_thread(private.unlink, True)

    async def _prepare(
        self,
        sessions: async_sessionmaker[AsyncSession],
        intake: IntakeFile,
        source: Path,
        private: Path,
        name: str,
        work: Path,
        sealed_source: SealedSource | None,
    ) -> Prepared:
        if sealed_source is not None:
            try:
                source_sha256 = await sealed_source.take_in(private)
            except (sealing.UnsealError, BlobMissing):
                raise _unusable(
                    "保管していた隔離ファイルを復号できませんでした（破損または改ざんのおそれ）。"
                    "情報システム担当に連絡してください。"
                ) from None
        else:
            source_sha256 = await asyncio.to_thread(take_in, source, private, intake.source_identity)
        if self.scanner is not None:
            found = await self.scanner.scan(private)
            if found is not None:
                raise PolicyRefusal(
                    RefusalCode.INFECTED,
                    f"ウイルスが検出されました（{found}）。ファイルは隔離しました。情報システム担当に連絡してください。",
                )
        route = intake.route
        async with sessions() as session:
            program = await session.get(Program, route.program_id)
        assert program is not None
        hooks = self.plugins.for_program(program.code)
        prepared = []
        for target in route.targets:
            contract = target.contract
            async with sessions() as session:
                await self._check_contract(session, contract, target, program.code)
                screening = await sensitive_approvals.policy_for(session, contract, route)
            folder = work / str(target.id)
            await asyncio.to_thread(folder.mkdir)
            minimised = folder / name
            items = RecipientItems(
                allowed=tuple(contract.allowed_items),
                drop=frozenset(target.drop_items),
                file_types=frozenset(route.allowed_file_types),
            )
            result: MinimiseResult = await asyncio.to_thread(
                minimise,
                private,
                minimised,
                items,
                encoding=route.encoding,
                screening=screening,
                derive=hooks.derive_columns,
            )
            if result.records is not None:
                problems = await asyncio.to_thread(hooks.validate_file, minimised)
                if problems:
                    shown = " / ".join(f"{p.record}件目: {p.message}" for p in problems[:5])
                    raise PolicyRefusal(RefusalCode.PLUGIN, f"業務ルールの確認で問題が見つかりました: {shown}")
            approved = _approved_items(screening, result)
            prepared.append(
                await self._pack(contract, target, folder, minimised, result, hooks, source_sha256, approved)
            )
        return Prepared(source_sha256, prepared)

    @staticmethod
    def _safe_name(name: str) -> str:
        try:
            return packing.safe_member_name(name)
        except packing.UnsafeNameError as exc:
            raise PolicyRefusal(RefusalCode.UNUSABLE_FILE, f"ファイル名を受け付けられません: {exc}") from None

    async def _check_contract(
        self, session: AsyncSession, contract: Contract, target: RouteTarget, program: str
    ) -> None:
        names = [target.connector] + ([target.fallback_connector] if target.fallback_connector else [])
        connector_facts = []
        for name in names:
            connector = self.connectors.get(name)
            if connector is None:
                raise PolicyRefusal(RefusalCode.NO_CONNECTOR, f"接続先「{name}」が設定されていません。")
            connector_facts.append(rules.ConnectorFacts(name, connector.jurisdiction.country))
        facts = await contract_facts(session, contract, connector_facts)
        now = utcnow()
        rules.check_period(facts, jst_date(now))
        rules.check_program(facts, program)
        rules.check_subcontract_chain(facts, now)
        rules.check_jurisdiction(facts)
        for name in names:
            rules.check_channel(facts, self.connectors[name].kind)

    async def _pack(
        self,
        contract: Contract,
        target: RouteTarget,
        folder: Path,
        minimised: Path,
        result: MinimiseResult,
        hooks: ProgramHooks,
        source_sha256: str,
        approved: dict[str, str],
    ) -> PreparedPackage:
        package_id = new_public_id()
        password = new_package_password()
        created = utcnow()
        manifest = packing.Manifest(
            package_id=package_id,
            contract_id=contract.public_id,
            contract_name=contract.name,
            recipient=contract.party.name,
            created_at=created,
        )
        dest = folder.parent / f"{package_id}.zip"
        packed = await asyncio.to_thread(
            packing.pack,
            [packing.PackSource(minimised.name, minimised, result.records)],
            manifest,
            password,
            dest,
            level=self.deflate_level,
        )
        sealed = sealing.seal(self.keyring.current, password.encode(), package_id.encode())
        del password
        quantity = {"files": 1, "bytes": packed.files[0].size}
        if result.records is not None:
            quantity["records"] = result.records
        package = Package(
            public_id=package_id,
            contract_id=contract.id,
            route_target_id=target.id,
            status=PackageStatus.SEALED,
            zip_name=f"{minimised.stem}_{package_id[:8]}.zip",
            blob_key=package_key(package_id),
            size=packed.size,
            sha256=packed.sha256,
            content={
                "files": [
                    {"name": f.name, "size": f.size, "sha256": f.sha256, "records": f.record_count}
                    for f in packed.files
                ],
                "columns": list(result.columns),
                "dropped": list(result.dropped),
                "derived": list(result.derived),
                "approved_sensitive": approved,
                "source_sha256": source_sha256,
            },
            sealed_password=sealed.to_bytes(),
            key_id=sealed.key_id,
            connector=target.connector,
            download_limit=contract.download_limit,
            created_at=created,
        )
        content = f"{minimised.name}（項目: {'、'.join(result.columns) or '—'}）"
        if result.records is not None:
            for description in await asyncio.to_thread(hooks.describe_package, minimised, result.records):
                content = f"{description.content}（{minimised.name}）"
                quantity.update({q.kind: q.count for q in description.quantities})
        if result.derived:
            # The register says which items the hub computed rather than took from the ward's file.
            content += f"（算出項目: {'、'.join(result.derived)}）"
        # Kept with the manifest so that an incident counts the records and people affected (C-18) from it.
        package.content = {**package.content, "quantities": dict(quantity)}
        if approved:
            # C-07: a forbidden-category item left the ward only under the approval the register names.
            content += f"（承諾による要配慮項目: {'、'.join(f'{c}〔{ref}〕' for c, ref in approved.items())}）"
        await asyncio.to_thread(minimised.unlink)
        return PreparedPackage(package, contract, content, quantity, dest)


def _approved_items(policy: ScreeningPolicy, result: MinimiseResult) -> dict[str, str]:
    """Each forbidden-category column that passed under an approval, with the approval's document number."""
    approved: dict[str, str] = {}
    for hit in result.screening_hits:
        approval = policy.approval_for(hit.column)
        if approval is not None:
            approved.setdefault(hit.column, approval.document_ref)
    return approved
