"""DVD fallback connector (C-21): packages are staged per medium, then sealed into an ISO image.

``put(folder, …)`` stages a package under ``staging_root/<folder>/``; a folder is one medium in preparation.
``finalize_medium(folder, …)`` builds the image, reads it back to prove every file is intact, writes the
printable label, and clears the staging folder (the image is now the only copy the connector keeps, so the
next put into that folder starts a new medium). The hub registers the returned description and the physical
hand-over.

Only WinZip AES-256 ZIP packages are accepted (C-01): a disc may leave the building by hand, so nothing on it
may be readable without the password that travels separately.

The image is built with pycdlib rather than xorriso: it is a pure-Python project dependency (no external
binary to install and drive through a subprocess), writes ISO 9660 level 3 + Joliet + Rock Ridge + UDF 2.60
(UDF lets Windows read files above 4 GiB; Joliet keeps Japanese file names), and reads images back, which the
verification step needs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from connectors.base import (
    AccessRole,
    Connector,
    ConnectorError,
    Grantee,
    HealthReport,
    Jurisdiction,
    StoredObject,
)
from connectors.local import (
    TEMP_PREFIX,
    LocalConnector,
    check_access_request,
    folder_parts,
    os_error,
    sha256_file,
    sha256_stream,
)
from connectors.media_label import render_label
from connectors.options import ConnectorOptions
from ledger.files import atomic_writer, fsync_directory
from ledger.wareki import JST

DVD_CAPACITY = 4_700_372_992
AES_EXTRA_ID = 0x9901
AES_METHOD = 99
AES_256_STRENGTH = 3
_JOLIET_MAX_CHARS = 64
# Unambiguous characters only: the id is read aloud and typed from the label. Six of them (30 bits) keep the
# id within the 16 characters a Joliet volume identifier holds.
_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ID_LENGTH = 6
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


@dataclass(frozen=True)
class MediumFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class MediumDescription:
    """What the hub registers for a sealed medium (the connector never touches the database)."""

    media_id: str
    folder: str
    contract_name: str
    prepared_on: date
    files: tuple[MediumFile, ...]
    image_path: Path
    image_size: int
    image_sha256: str
    label_path: Path


def _refuse(path: Path, reason_ja: str, technical: str) -> ConnectorError:
    return ConnectorError(
        f"{path.name} は媒体に収録できません：{reason_ja}（暗号化された ZIP のみ収録できます）。{technical}",
        retryable=False,
    )


def _aes256_extra(extra: bytes) -> bool:
    offset = 0
    while offset + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + length]
        if header_id == AES_EXTRA_ID and len(body) >= 7:
            return body[2:4] == b"AE" and body[4] == AES_256_STRENGTH
        offset += 4 + length
    return False


def check_aes_zip(path: Path) -> None:
    """Refuse anything but a ZIP whose every file entry is WinZip AES-256 encrypted.

    Both the central directory and each local file header are checked, since extractors read either.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(path, "ZIP ファイルではありません", f"not a zip: {exc}") from exc
    with archive, path.open("rb") as raw:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if not entries:
            raise _refuse(path, "ZIP にファイルが入っていません", "empty zip")
        for info in entries:
            raw.seek(info.header_offset)
            header = raw.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size:
                raise _refuse(path, "ZIP が壊れています", f"truncated local header of {info.filename!r}")
            signature, _, flags, method, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(header)
            local_extra = raw.read(name_len + extra_len)[name_len:]
            encrypted = (
                signature == b"PK\x03\x04"
                and flags & 0x1
                and info.flag_bits & 0x1
                and method == AES_METHOD
                and info.compress_type == AES_METHOD
                and _aes256_extra(local_extra)
                and _aes256_extra(info.extra)
            )
            if not encrypted:
                raise _refuse(
                    path,
                    f"「{info.filename}」が AES-256 で暗号化されていません",
                    f"entry {info.filename!r} lacks the encryption flag or AES-256 extra field 0x9901",
                )


def new_media_id(year: int) -> str:
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
    return f"DVD-{year:04d}-{suffix}"


def _check_disc_name(name: str) -> None:
    if len(name) > _JOLIET_MAX_CHARS or any(ord(ch) > 0xFFFF for ch in name):
        raise ConnectorError(
            f"ファイル名「{name}」は DVD に収録できません（{_JOLIET_MAX_CHARS} 文字以内、一部の記号・絵文字は不可）。"
            "name does not fit Joliet (UCS-2, 64 characters)",
            retryable=False,
        )


def _build_image(files: Sequence[tuple[str, Path]], media_id: str, output: BinaryIO) -> None:
    iso = pycdlib.PyCdlib()
    iso.new(
        interchange_level=3,
        vol_ident=media_id,
        app_ident_str="HANDOVER",
        joliet=3,
        rock_ridge="1.09",
        udf="2.60",
    )
    try:
        for number, (name, path) in enumerate(files, start=1):
            iso.add_file(
                str(path),
                iso_path=f"/P{number:05d}.ZIP;1",
                rr_name=name,
                joliet_path=f"/{name}",
                udf_path=f"/{name}",
            )
        iso.write_fp(output)
    finally:
        iso.close()


def _read_back(image: BinaryIO, media_id: str, expected: Sequence[MediumFile]) -> None:
    """Read the written image back and compare volume id, file list, sizes and hashes with the staged files."""
    image.seek(0)
    iso = pycdlib.PyCdlib()
    iso.open_fp(image)
    try:
        volume_id = iso.pvd.volume_identifier.decode("ascii").strip()
        names = sorted(
            iso.full_path_from_dirrecord(child, rockridge=False).lstrip("/")
            for child in iso.list_children(joliet_path="/")
            if not child.is_dot() and not child.is_dotdot()
        )
        actual: list[MediumFile] = []
        for item in expected:
            with iso.open_file_from_iso(joliet_path=f"/{item.name}") as handle:
                size, digest = sha256_stream(handle)
            actual.append(MediumFile(item.name, size, digest))
    finally:
        iso.close()
    if volume_id != media_id or names != sorted(f.name for f in expected) or actual != list(expected):
        raise ConnectorError(
            f"作成した DVD イメージを読み直すと内容が一致しません（{image.name}）。image read-back mismatch",
            retryable=True,
        )


class MediaOptions(ConnectorOptions):
    """``root`` holds ``staging/`` (media in preparation) and ``images/`` (sealed images and labels)."""

    kind: Literal["media"] = "media"
    root: Path

    def build(self, name: str, jurisdiction: Jurisdiction) -> MediaConnector:
        staging, images = self.local_folders()
        return MediaConnector(name, jurisdiction, staging_root=staging, image_root=images)

    def local_folders(self) -> list[Path]:
        return [self.root / "staging", self.root / "images"]


class MediaConnector(Connector):
    kind = "media"

    def __init__(
        self,
        name: str,
        jurisdiction: Jurisdiction,
        *,
        staging_root: Path | str,
        image_root: Path | str,
        capacity: int = DVD_CAPACITY,
    ) -> None:
        super().__init__(name, jurisdiction)
        self.image_root = Path(image_root)
        self.capacity = capacity
        # Staging is a local outbox with the same atomic, idempotent put; only files readable by the hub.
        self._staging = LocalConnector(name, jurisdiction, root=staging_root, file_mode=0o600)

    @property
    def staging_root(self) -> Path:
        return self._staging.root

    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        self._staging.path_of(folder, name)
        _check_disc_name(name)
        await asyncio.to_thread(self._check_source, folder, name, source)
        return await self._staging.put(folder, name, source, metadata)

    def _check_source(self, folder: str, name: str, source: Path) -> None:
        check_aes_zip(source)
        directory = self.staging_root.joinpath(*folder_parts(folder))
        staged = [p for p in _staged_files(directory) if p.name != name]
        total = sum(p.stat().st_size for p in staged) + source.stat().st_size
        if total > self.capacity:
            raise ConnectorError(
                f"媒体の容量（{self.capacity:,} バイト）を超えるため収録できません。合計 {total:,} バイト。"
                "medium capacity exceeded; finalize this medium and start another folder",
                retryable=False,
            )

    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        await self._staging.verify(obj, size=size, sha256=sha256)

    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        # A disc is handed over in person; who received it is the register's business, not the connector's.
        check_access_request(folder, people, role)

    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        check_access_request(folder, people, None)

    async def delete(self, obj: StoredObject) -> None:
        await self._staging.delete(obj)

    async def exists(self, obj: StoredObject) -> bool:
        return await self._staging.exists(obj)

    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        return await self._staging.locate(folder, name, expected)

    async def health(self) -> HealthReport:
        return await asyncio.to_thread(self._health_sync)

    def _health_sync(self) -> HealthReport:
        for root in (self.staging_root, self.image_root):
            if not root.is_dir():
                return HealthReport(False, False, f"媒体用フォルダ {root} がありません。folder missing")
            if not os.access(root, os.W_OK | os.X_OK):
                return HealthReport(True, False, f"媒体用フォルダ {root} に書き込めません。not writable")
        return HealthReport(True, True, "媒体用フォルダは利用できます。")

    async def finalize_medium(
        self, folder: str, *, contract_name: str, prepared_on: date | None = None
    ) -> MediumDescription:
        """Seal the packages staged in ``folder`` into a new image with a fresh media id and label."""
        day = prepared_on or datetime.now(JST).date()
        return await asyncio.to_thread(self._finalize_sync, folder, contract_name, day)

    def _finalize_sync(self, folder: str, contract_name: str, day: date) -> MediumDescription:
        directory = self.staging_root.joinpath(*folder_parts(folder))
        staged = sorted(_staged_files(directory), key=lambda p: p.name)
        if not staged:
            raise ConnectorError(
                f"媒体フォルダ「{folder}」に収録するパッケージがありません。nothing staged", retryable=False
            )
        files: list[MediumFile] = []
        for path in staged:
            check_aes_zip(path)
            size, digest = sha256_file(path)
            files.append(MediumFile(path.name, size, digest))
        media_id = new_media_id(day.year)
        while (self.image_root / f"{media_id}.iso").exists():
            media_id = new_media_id(day.year)
        image = self.image_root / f"{media_id}.iso"
        label = self.image_root / f"{media_id}-label.pdf"
        try:
            with atomic_writer(image, mode=None) as handle:
                _build_image([(f.name, p) for f, p in zip(files, staged, strict=True)], media_id, handle)
                _read_back(handle, media_id, files)
                handle.seek(0)
                image_size, image_sha256 = sha256_stream(handle)
                if image_size > self.capacity:
                    raise ConnectorError(
                        f"DVD イメージ（{image_size:,} バイト）が媒体の容量を超えました。image exceeds capacity",
                        retryable=False,
                    )
        except OSError as exc:
            raise os_error(exc, "DVD イメージを作成") from exc
        except PyCdlibException as exc:
            raise ConnectorError(f"DVD イメージを作成できません。pycdlib: {exc}", retryable=False) from exc
        medium = MediumDescription(
            media_id=media_id,
            folder=folder,
            contract_name=contract_name,
            prepared_on=day,
            files=tuple(files),
            image_path=image,
            image_size=image_size,
            image_sha256=image_sha256,
            label_path=label,
        )
        try:
            render_label(medium, label)
            for path in staged:
                path.unlink()
            directory.rmdir()
            fsync_directory(directory.parent)
        except OSError as exc:
            raise os_error(exc, "媒体ラベルの作成または仮置きファイルの片付けが") from exc
        return medium


def _staged_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(TEMP_PREFIX)]
