"""Issue 3's promise, measured on a real ``handover serve --demo``: drop a CSV, get an AES ZIP in the outbox
within 2 seconds, open it in real 7-Zip with the password from the printed notice, and find the password
nowhere else (logs, database dump, result files)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.passwords.generate import ALPHABET
from policies.dummy import write_dummy_csv
from tests.e2e.demo_hub import DemoHub
from tests.services import require_binary


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoHub]:
    running = DemoHub(tmp_path)
    running.start()
    yield running
    running.stop()


def wait_for(predicate: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def test_drop_to_outbox_to_7zip_with_the_printed_password(demo: DemoHub, tmp_path: Path) -> None:
    seven = require_binary("7zz")
    pdftotext = require_binary("pdftotext")
    routes = {r["code"]: r for r in json.loads(demo.cli("routes", "list", "--json").stdout)}
    folder = Path(routes["s1-to-contractor"]["watch_dir"])
    original = tmp_path / "original.csv"
    write_dummy_csv("seikatsu-hogo-tsuika", 200, original, encoding="cp932")
    staged = folder / ".staging.csv"
    staged.write_bytes(original.read_bytes())
    staged.rename(folder / "対象世帯.csv")  # hidden while written, then renamed: how producers should drop
    outbox = demo.workdir / "var" / "outbox" / "s1-main"
    elapsed = wait_for(lambda: outbox.exists() and any(outbox.glob("*.zip")), 10)
    print(f"drop → outbox: {elapsed:.2f} s")
    assert elapsed < 2.0, f"the package took {elapsed:.2f} s"
    wait_for(lambda: (folder / "対象世帯.csv.result.json").exists(), 10)
    [archive] = outbox.glob("*.zip")

    [package] = json.loads(demo.cli("packages", "list", "--json").stdout)
    too_early = demo.cli(
        "password",
        "notice",
        package["id"],
        "--to",
        "a-handler",
        "--by",
        "staff-welfare",
        "--out",
        str(tmp_path / "n.pdf"),
    )
    assert too_early.returncode != 0 and "受領確認" in too_early.stderr
    assert demo.cli("packages", "acknowledge", package["id"], "--by", "a-handler").returncode == 0
    outsider = demo.cli(
        "password",
        "notice",
        package["id"],
        "--to",
        "b-handler",
        "--by",
        "staff-welfare",
        "--out",
        str(tmp_path / "x.pdf"),
    )
    assert outsider.returncode != 0, "a handler of another contract gets no password"
    printed = demo.cli(
        "password",
        "notice",
        package["id"],
        "--to",
        "a-handler",
        "--by",
        "staff-welfare",
        "--out",
        str(tmp_path / "n.pdf"),
    )
    assert printed.returncode == 0, printed.stderr
    text = subprocess.run([pdftotext, str(tmp_path / "n.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert package["id"] in text and "令和" in text
    [password] = re.findall(rf"(?<![{ALPHABET}])[{ALPHABET}]{{24}}(?![{ALPHABET}])", text)

    test = subprocess.run([seven, "t", str(archive)], input=password + "\n", capture_output=True, text=True)
    assert test.returncode == 0, test.stdout
    wrong = subprocess.run([seven, "t", str(archive)], input="A" * 24 + "\n", capture_output=True, text=True)
    assert wrong.returncode != 0
    out = tmp_path / "extracted"
    subprocess.run(
        [seven, "x", f"-o{out}", str(archive)], input=password + "\n", text=True, capture_output=True, check=True
    )
    assert (out / "対象世帯.csv").read_bytes() == original.read_bytes()
    assert not (folder / "対象世帯.csv").exists(), "no plaintext left in the drop folder"

    demo.stop()
    dump = "\n".join(sqlite3.connect(demo.workdir / "var" / "handover.db").iterdump())
    haystacks = {
        "database dump": dump,
        "hub log": demo.log.read_text(encoding="utf-8", errors="replace"),
        "result files": "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.result.*")),
        "cli output": printed.stdout + printed.stderr,
    }
    for where, text_ in haystacks.items():
        assert password not in text_, f"the password leaked into the {where}"
