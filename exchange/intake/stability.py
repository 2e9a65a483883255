"""Watched folders: decide when a dropped file is complete, and hand it to the work queue.

A file counts when it is stable (size and mtime unchanged for the quiet window), or at once when its producer
signals completion by a ``NAME.done`` marker. Producers that write ``NAME.part`` / ``NAME.tmp`` and rename at the
end need nothing special: temp names are ignored until the rename. Content is inert data: nothing here executes
or parses a dropped file.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".done", ".result.json", ".result.txt", ".reason.txt")
DONE_MARKER = ".done"


@dataclass(frozen=True)
class Observation:
    size: int
    mtime_ns: int
    first_seen: float


@dataclass(frozen=True)
class Ready:
    """A dropped entry ready to take in; ``is_dir`` entries are refused (folders are not accepted).

    ``path`` may hold an undecodable name (surrogate escapes, as ``os`` gives it); device, inode, size and mtime
    identify the drop itself, so a stale listing of a file already taken in is recognised as such.
    """

    path: Path
    size: int
    is_dir: bool
    marker: Path | None
    device: int = 0
    inode: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0

    @property
    def identity(self) -> str:
        return identity_of(self.device, self.inode, self.size, self.mtime_ns, self.ctime_ns)


def identity_of(device: int, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    """What tells one drop from another. The inode change time is in it because a rename changes it: a file
    staff move back from the quarantine folder (same inode, same mtime) is a new drop, not the refused one."""
    return f"{device}:{inode}:{size}:{mtime_ns}:{ctime_ns}"


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
            except OSError as exc:
                # One entry we cannot even look at must not hide the others.
                log.warning("cannot look at an entry in a watched folder (%s); skipped", type(exc).__name__)
                continue
            present.add(path)
            ids = (info.st_dev, info.st_ino)
            if stat.S_ISLNK(info.st_mode):
                # A link could point anywhere on the ward's network: refuse it like a folder.
                ready.append(Ready(path, info.st_size, True, None, *ids, info.st_mtime_ns, info.st_ctime_ns))
                continue
            is_dir = stat.S_ISDIR(info.st_mode)
            marker = folder / (entry.name + DONE_MARKER)
            previous = self._seen.get(path)
            current = Observation(info.st_size, info.st_mtime_ns, now if previous is None else previous.first_seen)
            if previous is None or (previous.size, previous.mtime_ns) != (current.size, current.mtime_ns):
                current = Observation(info.st_size, info.st_mtime_ns, now)
            self._seen[path] = current
            if entry.name + DONE_MARKER in names or now - current.first_seen >= self.quiet_seconds:
                found = marker if marker.name in names else None
                ready.append(Ready(path, info.st_size, is_dir, found, *ids, info.st_mtime_ns, info.st_ctime_ns))
            else:
                unsettled = True
        for gone in [p for p in self._seen if p.parent == folder and p not in present]:
            del self._seen[gone]
        return ready, unsettled
