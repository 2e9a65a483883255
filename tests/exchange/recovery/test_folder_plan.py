"""Where a restored hub's folders go: with its data directory, mapped, relocated, or refused — never the original's
by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.recovery.folder_plan import FolderMap, FolderPlan

OLD = Path("/srv/handover/var")
NEW = Path("/srv/rehearsal/var")


def test_folders_under_either_form_of_the_data_directory_move_with_it() -> None:
    plan = FolderPlan(OLD, NEW)
    relative = plan.place("inbox/委託先", "route", "r", "watch_dir")
    absolute = plan.place(str(OLD / "inbox" / "委託先"), "route", "r", "watch_dir")  # stored before 0024
    assert relative == absolute
    assert (relative.stored, relative.folder, relative.how) == ("inbox/委託先", NEW / "inbox" / "委託先", "data_dir")


def test_an_outside_folder_is_refused_unless_mapped_or_relocated() -> None:
    share = "/mnt/intranet/handover/inbox"
    assert FolderPlan(OLD, NEW).place(share, "route", "r", "watch_dir").stored is None

    mapped = FolderPlan(OLD, NEW, (FolderMap.parse("/mnt/intranet/handover=/mnt/test-share", NEW),))
    placed = mapped.place(share, "route", "r", "watch_dir")
    assert (placed.stored, placed.how) == ("/mnt/test-share/inbox", "mapped")

    into_data_dir = FolderPlan(OLD, NEW, (FolderMap.parse("/mnt/intranet=shares", NEW),))
    assert into_data_dir.place(share, "route", "r", "watch_dir").stored == "shares/handover/inbox"

    relocated = FolderPlan(OLD, NEW, relocate_unmapped=True).place(share, "route", "r", "watch_dir")
    assert (relocated.stored, relocated.how) == ("relocated/route-r/watch_dir", "relocated")


def test_the_longest_mapping_wins_and_mapping_a_folder_onto_itself_is_called_a_takeover() -> None:
    maps = (FolderMap.parse("/mnt/a=/mnt/x", NEW), FolderMap.parse("/mnt/a/b=/mnt/a/b", NEW))
    plan = FolderPlan(OLD, NEW, maps)
    assert plan.place("/mnt/a/b/in", "route", "r", "watch_dir").how == "taken_over"
    assert plan.place("/mnt/a/c", "route", "r", "watch_dir").stored == "/mnt/x/c"


@pytest.mark.parametrize("text", ["nothing", "=x", "relative/old=/x", "/old="])
def test_a_mapping_is_old_absolute_equals_new(text: str) -> None:
    with pytest.raises(ValueError, match="--map-folder"):
        FolderMap.parse(text, NEW)
