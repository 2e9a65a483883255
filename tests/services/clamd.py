"""A real ClamAV daemon for tests, with a signature database the test writes itself (no downloads here).

``clamd`` is one daemon for the whole session; a test that stops its daemon starts its own with ``start_clamd``.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket as sock
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import skip_or_fail

CLAMD = Path("/usr/sbin/clamd")
# The standard anti-virus test file: harmless, and every scanner must detect it.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass
class Clamd:
    socket: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _pong(path: Path) -> bool:
    with contextlib.suppress(OSError), sock.socket(sock.AF_UNIX, sock.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(path))
        conn.sendall(b"zPING\0")
        return conn.recv(16) == b"PONG\0"
    return False


def start_clamd(workdir: Path) -> Clamd:
    if not CLAMD.exists():
        skip_or_fail(f"{CLAMD} is not installed (Debian package clamav-daemon)")
    database = workdir / "db"
    database.mkdir(parents=True, exist_ok=True)
    (database / "test.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Test.EICAR\n")
    socket = workdir / "clamd.sock"
    config = workdir / "clamd.conf"
    config.write_text(
        f"DatabaseDirectory {database}\nLocalSocket {socket}\nForeground yes\nPidFile {workdir / 'clamd.pid'}\n"
        f"TemporaryDirectory {workdir}\nLogFile {workdir / 'clamd.log'}\n"
    )
    process = subprocess.Popen([str(CLAMD), "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Clamd(socket, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"clamd exited: {(workdir / 'clamd.log').read_text(errors='replace')}")
        if socket.exists() and _pong(socket):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("clamd did not answer within 60 s")


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    server = start_clamd(tmp_path_factory.mktemp("clamd"))
    yield server
    server.stop()
