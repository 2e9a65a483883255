"""Package files for delivery: one AES-256 ZIP (WinZip AE-2) holding the sources and a ``manifest.json``.

The manifest is written last because it carries each file's size and SHA-256, computed while streaming; it
is encrypted with the same password. ``pack`` is synchronous and CPU-bound: the hub calls it in a worker
thread. The output appears at ``dest`` only complete and proven: it is written to a temporary file in the same
directory, read back by :mod:`exchange.packing.proof` (which must find exactly the recorded sizes, hashes and
record counts), fsynced, then renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final

from exchange.packing.proof import Expected, PackageProofError, prove
from exchange.packing.zipaes import AesZipWriter
from ledger.files import atomic_writer

MANIFEST_NAME: Final = "manifest.json"
MANIFEST_FORMAT: Final = "handover-manifest/1"
MAX_NAME_BYTES: Final = 255
# Characters Windows refuses in file names; recipients extract with 7-Zip on Windows.
_WINDOWS_FORBIDDEN: Final = frozenset('<>:"|?*\\')
_WINDOWS_RESERVED: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}
)


class UnsafeNameError(ValueError):
    """A file name that must not go into an archive; the message is for ward staff (Japanese)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        shown = "".join("?" if unicodedata.category(c).startswith("C") else c for c in name)
        super().__init__(f"ファイル名「{shown}」は使用できません：{reason}")


def safe_member_name(name: str) -> str:
    """Return ``name`` (NFC-normalised) if it is safe as an archive member name, else raise UnsafeNameError.

    Allowed: relative paths with ``/`` separators whose parts are non-empty, not ``.``/``..``, free of
    control/format characters and of characters or device names Windows refuses, at most 255 UTF-8 bytes.
    NFC matters because macOS hands out decomposed names that Windows shows as broken kana.
    """
    normal = unicodedata.normalize("NFC", name)
    if not normal:
        raise UnsafeNameError(name, "名前が空です")
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs"} for c in normal):
        raise UnsafeNameError(name, "制御文字などの見えない文字が含まれています")
    if normal.startswith("/"):
        raise UnsafeNameError(name, "絶対パスは指定できません")
    forbidden = sorted(set(normal) & _WINDOWS_FORBIDDEN)
    if forbidden:
        raise UnsafeNameError(name, f"使用できない文字 {' '.join(forbidden)} が含まれています")
    for part in normal.split("/"):
        if part in {"", ".", ".."}:
            raise UnsafeNameError(name, "「..」や空のフォルダ名など、不正なパスが含まれています")
        if part != part.rstrip(" ."):
            raise UnsafeNameError(name, "名前の末尾に空白やピリオドは使えません")
        if part.split(".")[0].upper() in _WINDOWS_RESERVED:
            raise UnsafeNameError(name, f"「{part}」はWindowsの予約名のため使えません")
    if len(normal.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafeNameError(name, f"名前が長すぎます（UTF-8で{MAX_NAME_BYTES}バイトまで）")
    return normal


@dataclass(frozen=True)
class PackSource:
    """One file to pack: its name inside the archive, where it is, and optionally how many records it has."""

    name: str
    path: Path
    record_count: int | None = None


@dataclass(frozen=True)
class Manifest:
    """What the caller knows about the package; sizes and hashes are added while packing."""

    package_id: str
    contract_id: str
    contract_name: str
    recipient: str
    created_at: datetime

    def __post_init__(self) -> None:
        if self.created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")


@dataclass(frozen=True)
class PackedFile:
    name: str
    size: int
    sha256: str
    record_count: int | None


@dataclass(frozen=True)
class PackResult:
    path: Path
    size: int
    sha256: str
    files: tuple[PackedFile, ...]
    manifest_json: bytes


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def manifest_json(manifest: Manifest, files: Sequence[PackedFile]) -> bytes:
    document = {
        "format": MANIFEST_FORMAT,
        "package_id": manifest.package_id,
        "contract": {"id": manifest.contract_id, "name": manifest.contract_name},
        "recipient": manifest.recipient,
        "created_at": _utc_iso(manifest.created_at),
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256, "record_count": f.record_count} for f in files],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _checked_names(sources: Sequence[PackSource]) -> list[str]:
    if not sources:
        raise ValueError("nothing to pack")
    names: list[str] = []
    seen: set[str] = set()
    for source in sources:
        name = safe_member_name(source.name)
        # Windows file systems fold case, so two names differing only in case would overwrite each other.
        key = name.casefold()
        if key == MANIFEST_NAME:
            raise UnsafeNameError(source.name, f"「{MANIFEST_NAME}」はシステムが使う名前です")
        if key in seen:
            raise UnsafeNameError(source.name, "同じ名前のファイルが複数あります")
        seen.add(key)
        names.append(name)
    return names


def _shifted(progress: Callable[[int], None], base: int, read: int) -> None:
    progress(base + read)


def prove_packed(fp: BinaryIO, password: str, result: PackResult) -> None:
    """Read the ZIP open as ``fp`` back and raise :class:`PackageProofError` unless it is exactly ``result``:
    each file's size, SHA-256 and record count, the manifest's bytes, and the whole file's size and SHA-256."""
    members = [Expected(f.name, f.size, f.sha256, f.record_count) for f in result.files]
    document = result.manifest_json
    members.append(Expected(MANIFEST_NAME, len(document), hashlib.sha256(document).hexdigest(), None))
    prove(fp, password, members, size=result.size, sha256=result.sha256, spool_dir=result.path.parent)


def pack(
    sources: Sequence[PackSource],
    manifest: Manifest,
    password: str,
    dest: Path,
    *,
    level: int = 6,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> PackResult:
    """Pack ``sources`` and a manifest into an AES-256 ZIP at ``dest`` (replaced atomically).

    ``level`` 1-9 deflates (zlib levels), 0 stores. ``progress`` receives the total source bytes read so far.
    ``workers`` is the number of deflate threads (default: CPU count). Raises :class:`PackageProofError` (an
    ``OSError``: the attempt failed) when a source changed size while it was read or the written ZIP does not
    read back as recorded; ``dest`` is then left as it was.
    """
    names = _checked_names(sources)
    packed: list[PackedFile] = []
    done = 0
    with atomic_writer(dest) as out, AesZipWriter(out, password, workers=workers) as writer:
        for name, source in zip(names, sources, strict=True):
            report = None if progress is None else partial(_shifted, progress, done)
            with source.path.open("rb") as src:
                opened_size = os.fstat(src.fileno()).st_size
                info = writer.write_stream(
                    name,
                    src,
                    size_hint=opened_size,
                    level=level,
                    modified=manifest.created_at,
                    progress=report,
                )
            if info.size != opened_size:
                # Someone else wrote to or truncated the source while it was read (a lost lease, a rerun).
                raise PackageProofError(f"{name}: 読み取り中にサイズが{opened_size}から{info.size}バイトに変わりました")
            done += info.size
            packed.append(PackedFile(name, info.size, info.sha256, source.record_count))
        document = manifest_json(manifest, packed)
        writer.write_bytes(MANIFEST_NAME, document, level=level, modified=manifest.created_at)
        writer.close()
        result = PackResult(dest, writer.size, writer.sha256, tuple(packed), document)
        out.flush()
        prove_packed(out, password, result)
    return result
