"""Route and return folders as the database keeps them: relative to the data directory where they lie under it.

A folder under the data directory is stored relative to it (``inbox/生活保護/委託先``), so a hub restored into
another data directory watches its own folders, never the original's; a folder elsewhere (an intranet share) is
stored absolute, and ``handover restore`` refuses it unless the operator maps it (``exchange/recovery``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.models import Route


def stored_folder(folder: Path, data_dir: Path) -> str:
    """How ``folder`` (absolute) is kept: relative (POSIX) when under ``data_dir`` (absolute), else absolute."""
    try:
        return folder.relative_to(data_dir).as_posix() or "."
    except ValueError:
        return str(folder)


def resolve_folder(stored: str, data_dir: Path) -> Path:
    """The folder a stored value names: a relative one lies under ``data_dir`` (absolute; no disk access here)."""
    path = Path(stored)
    return path if path.is_absolute() else data_dir / path


@dataclass(frozen=True)
class RouteFolders:
    """A route's folders, resolved: the watched folder, the folder for what cannot be sealed, the processed one."""

    watch: Path
    quarantine: Path
    processed: Path | None

    @classmethod
    def of(cls, route: Route, data_dir: Path) -> RouteFolders:
        return cls(
            watch=resolve_folder(route.watch_dir, data_dir),
            quarantine=resolve_folder(route.quarantine_dir, data_dir),
            processed=resolve_folder(route.processed_dir, data_dir) if route.processed_dir else None,
        )
