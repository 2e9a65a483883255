"""From one dropped file to one sealed package per recipient: every check, minimisation and packing.

All refusals are ``PolicyRefusal`` (the caller quarantines); I/O failures are ``OSError`` (the caller retries).
Blocking work runs in worker threads so the event loop keeps serving the portal.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Connector
from exchange.contract_facts import contract_facts
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


class VirusScanner(Protocol):
    async def scan(self, path: Path) -> str | None:
        """The signature name when infected, None when clean; raises OSError when the scanner is down."""


@dataclass(frozen=True)
class PreparedPackage:
    package: Package
    contract: Contract
    content: str
    quantity: Mapping[str, int]

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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
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

    async def prepare(self, session: AsyncSession, intake: IntakeFile, source: Path, work: Path) -> Prepared:
        await asyncio.to_thread(self._fresh_dir, work)
        await self._check_source(source)
        name = self._safe_name(source.name)
        source_sha256 = await asyncio.to_thread(_sha256, source)
        if self.scanner is not None:
            found = await self.scanner.scan(source)
            if found is not None:
                raise PolicyRefusal(
                    RefusalCode.INFECTED,
                    f"ウイルスが検出されました（{found}）。ファイルは隔離しました。情報システム担当に連絡してください。",
                )
        route = intake.route
        program = await session.get(Program, route.program_id)
        assert program is not None
        hooks = self.plugins.for_program(program.code)
        prepared = []
        for target in route.targets:
            contract = target.contract
            await self._check_contract(session, contract, target, program.code)
            folder = work / str(target.id)
            await asyncio.to_thread(folder.mkdir)
            minimised = folder / name
            items = RecipientItems(
                allowed=tuple(contract.allowed_items),
                drop=frozenset(target.drop_items),
                file_types=frozenset(route.allowed_file_types),
            )
            result: MinimiseResult = await asyncio.to_thread(
                minimise, source, minimised, items, encoding=route.encoding
            )
            if result.records is not None:
                problems = await asyncio.to_thread(hooks.validate_file, minimised)
                if problems:
                    shown = " / ".join(f"{p.record}件目: {p.message}" for p in problems[:5])
                    raise PolicyRefusal(RefusalCode.PLUGIN, f"業務ルールの確認で問題が見つかりました: {shown}")
            prepared.append(await self._pack(contract, target, folder, minimised, result, hooks, source_sha256))
        return Prepared(source_sha256, prepared)

    @staticmethod
    def _fresh_dir(work: Path) -> None:
        # A retry after a crash starts from nothing: half-written packages of the last attempt are discarded.
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)

    @staticmethod
    async def _check_source(source: Path) -> None:
        def check() -> None:
            if not source.exists():
                raise PolicyRefusal(
                    RefusalCode.UNUSABLE_FILE, "ファイルが見つかりません（処理前に移動または削除されました）。"
                )
            if not source.is_file():
                raise PolicyRefusal(RefusalCode.UNUSABLE_FILE, "通常のファイルではありません。")
            if source.stat().st_size == 0:
                raise PolicyRefusal(
                    RefusalCode.UNUSABLE_FILE, "ファイルが空です（0バイト）。抽出をやり直してください。"
                )
            try:
                with source.open("rb") as handle:
                    handle.read(1)
            except PermissionError:
                raise PolicyRefusal(
                    RefusalCode.UNUSABLE_FILE, "ファイルを読み取る権限がありません。フォルダの権限を確認してください。"
                ) from None

        await asyncio.to_thread(check)

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
            store_path=str(dest),
            size=packed.size,
            sha256=packed.sha256,
            content={
                "files": [
                    {"name": f.name, "size": f.size, "sha256": f.sha256, "records": f.record_count}
                    for f in packed.files
                ],
                "columns": list(result.columns),
                "dropped": list(result.dropped),
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
        await asyncio.to_thread(minimised.unlink)
        return PreparedPackage(package, contract, content, quantity)
