"""The event-loop guards themselves: CPU work on the loop fails a test; waiting for the CPU does not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_PROBES = """
import asyncio
import threading
import time

pytest_plugins = ["tests.blocking"]


async def test_cpu_on_the_loop() -> None:
    from tests.blocking import reference_loop  # imported here: pytest loads the plugin module first

    # A hundred times the guard's reference loop: over its bar of thirty on any machine, even when the machine is
    # three times busier while the bar is measured again than while this ran.
    for _ in range(100):
        reference_loop()


# Millions of live container objects, as late in a long run, make each full collection cost a good fraction of a
# second; they are built when the module is imported, not on the loop, so that only the collections run there.
_HEAP = [[i] for i in range(4_000_000)]


async def test_a_full_collection_on_the_loop() -> None:
    import gc

    # The collector's work is not ours, so it must not count, however long it takes.
    for _ in range(8):
        gc.collect()


async def test_loop_starved_by_a_busy_thread() -> None:
    # A thread that holds the GIL in pure-Python work makes each loop step wait; the loop itself does little.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(10_000))

    threads = [threading.Thread(target=spin) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(30):
            await asyncio.sleep(0.05)
            sum(range(100_000))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
"""


@pytest.mark.allow_blocking("runs pytest in a child process and waits for it")
def test_cpu_work_fails_and_waiting_for_the_cpu_does_not(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(_PROBES), encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfE",
            str(probe),
            "--rootdir",
            str(tmp_path),
            "-o",
            "asyncio_mode=auto",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    summary = done.stdout.split("short test summary")[-1]
    assert "ERROR at teardown of test_cpu_on_the_loop" in done.stdout, done.stdout
    assert "the event loop was held about a second or more" in done.stdout, done.stdout
    assert "test_loop_starved_by_a_busy_thread" not in summary, done.stdout
    assert "test_a_full_collection_on_the_loop" not in summary, done.stdout
    assert "3 passed, 1 error" in summary, done.stdout
