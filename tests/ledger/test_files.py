"""The one atomic-write helper: whole file or none, exact modes, exclusive create, no temporary file left."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from ledger.files import AtomicFile, atomic_writer, write_atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_replaces_the_file_privately_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "結果.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _names(tmp_path) == ["結果.json"]


def test_mode_is_exact_or_left_to_the_umask(tmp_path: Path) -> None:
    shared, umasked = tmp_path / "shared.zip", tmp_path / "report.pdf"
    previous = os.umask(0o077)
    try:
        write_atomic(shared, b"x", mode=0o640)
        write_atomic(umasked, b"x", mode=None)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    assert stat.S_IMODE(umasked.stat().st_mode) == 0o600


def test_failure_inside_the_block_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "package.zip"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["package.zip"]


def test_block_can_read_back_what_it_wrote(tmp_path: Path) -> None:
    with atomic_writer(tmp_path / "image.iso") as handle:
        handle.write(b"abc")
        handle.seek(0)
        assert handle.read() == b"abc"
    assert (tmp_path / "image.iso").read_bytes() == b"abc"


def test_exclusive_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "master.key"
    write_atomic(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert _names(tmp_path) == ["master.key"]


def test_exclusive_without_hard_links_claims_the_name_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "letter.pdf"
    write_atomic(target, b"letter", exclusive=True)
    assert target.read_bytes() == b"letter"
    with pytest.raises(FileExistsError):
        write_atomic(target, b"other", exclusive=True)
    assert target.read_bytes() == b"letter"
    assert _names(tmp_path) == ["letter.pdf"]


def test_fixed_temp_name_reuses_a_leftover(tmp_path: Path) -> None:
    leftover = tmp_path / ".handover-1.part"
    leftover.write_bytes(b"from the crashed try, longer than the new content")
    with atomic_writer(tmp_path / "a.zip", temp_name=leftover.name) as handle:
        handle.write(b"new")
    assert (tmp_path / "a.zip").read_bytes() == b"new"
    assert _names(tmp_path) == ["a.zip"]


def test_long_japanese_name_still_gets_a_temp_name(tmp_path: Path) -> None:
    target = tmp_path / ("抽出" * 39 + ".csv.result.json")  # 250 bytes: the name alone nearly fills an entry
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}"


def test_streaming_form_commits_or_discards_on_request(tmp_path: Path) -> None:
    kept, dropped = AtomicFile(tmp_path / "kept.bin"), AtomicFile(tmp_path / "dropped.bin")
    kept.file.write(b"1")
    dropped.file.write(b"2")
    kept.commit()
    dropped.discard()
    assert _names(tmp_path) == ["kept.bin"]
