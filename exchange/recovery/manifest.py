"""The backup's manifest (``manifest.json``): what the set holds and what the hub looked like when it was taken.

It names the database copy (or says that the database is backed up by the database's own tooling), the Alembic
revision, the ledger's tree size and root hash, every blob with its size and SHA-256, the route and return
folders as stored, and where the keys live — never the keys themselves. ``restore`` checks everything it copies
back against it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ledger.files import write_atomic

FORMAT: Final = "handover-backup/1"
MANIFEST_NAME: Final = "manifest.json"
BLOBS_DIR: Final = "blobs"


@dataclass(frozen=True)
class DatabasePart:
    kind: Literal["sqlite", "postgresql"]
    url: str  # without password
    revision: str | None
    copy: str | None  # file name in the set; None: the database is backed up by its own tooling
    sha256: str | None


@dataclass(frozen=True)
class LedgerPart:
    tree_size: int
    root_hash: str  # hex


@dataclass(frozen=True)
class BlobEntry:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BlobsPart:
    kind: str  # the blob store's kind: local or s3
    copied: bool  # True: every blob is in the set under ``blobs/<key>``
    items: list[BlobEntry] = field(default_factory=list)


@dataclass(frozen=True)
class FolderEntry:
    """One folder as the database stored it: ``owner`` route or return_folder, its code, the column."""

    owner: Literal["route", "return_folder"]
    code: str
    column: str
    stored: str


@dataclass(frozen=True)
class Manifest:
    created_at: str  # ISO 8601, UTC
    data_dir: str  # the original hub's data directory, absolute
    database: DatabasePart
    ledger: LedgerPart
    blobs: BlobsPart
    folders: list[FolderEntry]
    keys_kept_elsewhere: dict[str, str]  # name → where the original hub keeps it (the set never holds keys)
    format: str = FORMAT

    def write(self, directory: Path) -> None:
        body = json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"
        write_atomic(directory / MANIFEST_NAME, body.encode(), exclusive=True)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{directory} is not a handover backup: {MANIFEST_NAME} is missing") from None
        except ValueError as exc:
            raise ValueError(f"{directory / MANIFEST_NAME} cannot be read: {exc}") from None
        if raw.get("format") != FORMAT:
            raise ValueError(f"{directory / MANIFEST_NAME} is not a {FORMAT} manifest (found {raw.get('format')!r})")
        try:
            return cls(
                created_at=raw["created_at"],
                data_dir=raw["data_dir"],
                database=DatabasePart(**raw["database"]),
                ledger=LedgerPart(**raw["ledger"]),
                blobs=BlobsPart(
                    kind=raw["blobs"]["kind"],
                    copied=raw["blobs"]["copied"],
                    items=[BlobEntry(**item) for item in raw["blobs"]["items"]],
                ),
                folders=[FolderEntry(**item) for item in raw["folders"]],
                keys_kept_elsewhere=dict(raw["keys_kept_elsewhere"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{directory / MANIFEST_NAME} is incomplete: {exc}") from None
