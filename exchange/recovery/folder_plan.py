"""Which folders a restored hub will use: never the original's, unless the operator maps them on purpose.

A folder the original kept under its data directory (relative, or absolute under the original data directory
in a database from before migration 0024) moves with the data directory: the restored hub uses its own. A folder
outside it (an intranet share) is refused unless the operator names where the restored hub's copy lives with
``--map-folder OLD=NEW`` (OLD is the original's absolute folder or a parent of it; NEW absolute, or relative to
the new data directory), or accepts ``--relocate-unmapped``: every unmapped folder becomes an empty folder under
``DATA_DIR/relocated/`` (a rehearsal restore, whose intake must not reach any real share). Mapping a folder onto
itself is allowed and said loudly: that is taking over the original's folders after a disaster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exchange.folders import resolve_folder, stored_folder

RELOCATED_DIR = "relocated"

How = Literal["data_dir", "mapped", "taken_over", "relocated"]


@dataclass(frozen=True)
class FolderMap:
    old: Path
    new: Path

    @classmethod
    def parse(cls, text: str, data_dir: Path) -> FolderMap:
        """``OLD=NEW`` from the command line; NEW relative to ``data_dir`` (absolute) when not absolute."""
        old, sep, new = text.partition("=")
        if not sep or not old or not new:
            raise ValueError(f"--map-folder {text!r}: write OLD=NEW")
        if not Path(old).is_absolute():
            raise ValueError(f"--map-folder {text!r}: OLD must be the original's absolute folder")
        return cls(Path(old), resolve_folder(new, data_dir))


@dataclass(frozen=True)
class Placement:
    """Where one folder goes: the value to store (None: refused), the folder it names, and why."""

    stored: str | None
    folder: Path | None
    how: How | None


@dataclass(frozen=True)
class FolderPlan:
    original_data_dir: Path
    data_dir: Path  # the restored hub's, absolute
    maps: tuple[FolderMap, ...] = ()
    relocate_unmapped: bool = False

    def place(self, stored: str, owner: str, code: str, column: str) -> Placement:
        path = Path(stored)
        if not path.is_absolute():
            return Placement(stored, self.data_dir / path, "data_dir")
        if path.is_relative_to(self.original_data_dir):
            relative = path.relative_to(self.original_data_dir).as_posix() or "."
            return Placement(relative, self.data_dir / relative, "data_dir")
        for folder_map in sorted(self.maps, key=lambda m: len(m.old.parts), reverse=True):
            if path.is_relative_to(folder_map.old):
                target = folder_map.new / path.relative_to(folder_map.old)
                how: How = "taken_over" if target == path else "mapped"
                return Placement(stored_folder(target, self.data_dir), target, how)
        if self.relocate_unmapped:
            relative = f"{RELOCATED_DIR}/{owner}-{code}/{column}"
            return Placement(relative, self.data_dir / relative, "relocated")
        return Placement(None, None, None)

    def place_or_relocate(self, stored: str, owner: str, code: str, column: str) -> Placement:
        """``place``, relocating what it would refuse (for rows the manifest did not list)."""
        placed = self.place(stored, owner, code, column)
        if placed.stored is None:
            relative = f"{RELOCATED_DIR}/{owner}-{code}/{column}"
            return Placement(relative, self.data_dir / relative, "relocated")
        return placed
