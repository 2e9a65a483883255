"""Watched folders: decide when a dropped file is complete, and hand it to the work queue.

A file counts when it is stable (size and mtime unchanged for the quiet window), or at once when its producer
signals completion by a ``NAME.done`` marker. Producers that write ``NAME.part`` / ``NAME.tmp`` and rename at the
end need nothing special: temp names are ignored until the rename. Content is inert data: nothing here executes
or parses a dropped file.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".done", ".result.json", ".result.txt", ".reason.txt")
DONE_MARKER = ".done"


@dataclass(frozen=True)
class Observation:
    size: int
    mtime_ns: int
    first_seen: float


@dataclass(frozen=True)
class Ready:
    """A dropped entry ready to take in; ``is_dir`` entries are refused (folders are not accepted)."""

    path: Path
    size: int
    is_dir: bool
    marker: Path | None


def is_ignored(name: str) -> bool:
    """Hidden files, temp files, Office lock files, markers and the hub's own result files."""
    lowered = name.lower()
    return name.startswith((".", "~$")) or lowered.endswith(IGNORED_SUFFIXES)


class StabilityTracker:
    """Remembers what each folder held at the last look, to tell finished files from files being written."""

    def __init__(self, quiet_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._seen: dict[Path, Observation] = {}

    def look(self, folder: Path) -> tuple[list[Ready], bool]:
        """Entries now ready, and whether any entry is still unsettled (so the caller looks again soon)."""
        now = self.clock()
        ready: list[Ready] = []
        unsettled = False
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return [], False
        names = {entry.name for entry in entries}
        present: set[Path] = set()
        for entry in entries:
            if is_ignored(entry.name):
                continue
            path = Path(entry.path)
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            present.add(path)
            if stat.S_ISLNK(info.st_mode):
                # A link could point anywhere on the ward's network: refuse it like a folder.
                ready.append(Ready(path, 0, True, None))
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            marker = folder / (entry.name + DONE_MARKER)
            previous = self._seen.get(path)
            current = Observation(info.st_size, info.st_mtime_ns, now if previous is None else previous.first_seen)
            if previous is None or (previous.size, previous.mtime_ns) != (current.size, current.mtime_ns):
                current = Observation(info.st_size, info.st_mtime_ns, now)
            self._seen[path] = current
            if entry.name + DONE_MARKER in names or now - current.first_seen >= self.quiet_seconds:
                ready.append(Ready(path, info.st_size, is_dir, marker if marker.name in names else None))
            else:
                unsettled = True
        for gone in [p for p in self._seen if p.parent == folder and p not in present]:
            del self._seen[gone]
        return ready, unsettled
