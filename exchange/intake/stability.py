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
        # Per folder, by entry name: a folder holding a long queue is looked at often (every result file the
        # workers write wakes a look), so a look does no per-entry work beyond the stat it needs.
        self._seen: dict[Path, dict[str, Observation]] = {}

    def look(self, folder: Path) -> tuple[list[Ready], float | None]:
        """Entries now ready, and in how many seconds the first entry still unsettled may be (None: none is).

        The caller looks again then rather than at a fixed pace, so a finished drop is taken in as soon as its
        quiet window has passed, not up to one polling interval later."""
        now = self.clock()
        ready: list[Ready] = []
        due: float | None = None
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return [], None
        names = {entry.name for entry in entries}
        seen = self._seen.get(folder, {})
        kept: dict[str, Observation] = {}
        for entry in entries:
            name = entry.name
            if is_ignored(name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                # One entry we cannot even look at must not hide the others.
                log.warning("cannot look at an entry in a watched folder (%s); skipped", type(exc).__name__)
                continue
            ids = (info.st_dev, info.st_ino)
            if stat.S_ISLNK(info.st_mode):
                # A link could point anywhere on the ward's network: refuse it like a folder.
                ready.append(Ready(folder / name, info.st_size, True, None, *ids, info.st_mtime_ns, info.st_ctime_ns))
                continue
            previous = seen.get(name)
            if previous is None or (previous.size, previous.mtime_ns) != (info.st_size, info.st_mtime_ns):
                previous = Observation(info.st_size, info.st_mtime_ns, now)
            kept[name] = previous
            marked = name + DONE_MARKER in names
            if marked or now - previous.first_seen >= self.quiet_seconds:
                found = folder / (name + DONE_MARKER) if marked else None
                is_dir = stat.S_ISDIR(info.st_mode)
                path = folder / name
                ready.append(Ready(path, info.st_size, is_dir, found, *ids, info.st_mtime_ns, info.st_ctime_ns))
            else:
                wait = previous.first_seen + self.quiet_seconds - now
                due = wait if due is None else min(due, wait)
        self._seen[folder] = kept  # entries gone since the last look are forgotten
        return ready, due
