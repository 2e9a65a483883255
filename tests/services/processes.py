"""Ending a hub subprocess as an operator would: SIGTERM and a grace period, or SIGKILL (a crash)."""

from __future__ import annotations

import signal
import subprocess


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, as a crash or a pulled plug would end it."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 30 s."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill(process)
