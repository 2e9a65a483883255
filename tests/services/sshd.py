"""A real OpenSSH server on a free loopback port, serving SFTP for the current user: ``sshd_server``."""

from __future__ import annotations

import getpass
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from connectors.sftp import SftpConnector, SftpTimeouts
from tests.factories import TOKYO
from tests.services import free_port, skip_or_fail

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshdServer:
    host: str
    port: int
    username: str
    host_public_key: str
    client_private_key: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


def _wait_listening(server: SshdServer, deadline_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"sshd exited early: {server.log.read_text(errors='replace')}")
        try:
            with socket.create_connection((server.host, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"sshd did not listen: {server.log.read_text(errors='replace')}")


def start_sshd(workdir: Path, root: Path) -> SshdServer:
    if not SSHD.exists():
        skip_or_fail(f"{SSHD} is not installed (Debian package openssh-server)")
    workdir.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_file = workdir / "host_ed25519"
    host_key_file.write_bytes(host_key.export_private_key())
    host_key_file.chmod(0o600)
    authorized = workdir / "authorized_keys"
    authorized.write_bytes(client_key.export_public_key())
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key_file}\n"
        f"PidFile {workdir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "Subsystem sftp internal-sftp\n"
    )
    log = workdir / "sshd.log"
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log_handle, stderr=subprocess.STDOUT
        )
    server = SshdServer(
        host="127.0.0.1",
        port=port,
        username=getpass.getuser(),
        host_public_key=host_key.export_public_key().decode(),
        client_private_key=client_key.export_private_key().decode(),
        root=root,
        process=process,
        log=log,
    )
    try:
        _wait_listening(server)
    except BaseException:
        server.stop()
        raise
    return server


def sftp_connector_for(
    server: SshdServer, *, host_key: str | None = None, client_key: str | None = None, root: Path | None = None
) -> SftpConnector:
    return SftpConnector(
        "sftp-test",
        TOKYO,
        host=server.host,
        port=server.port,
        username=server.username,
        host_key=host_key or server.host_public_key,
        client_key=client_key or server.client_private_key,
        root=str(root or server.root),
        timeouts=SftpTimeouts(connect=5.0),
    )


@pytest.fixture
def sshd_server(tmp_path: Path) -> Iterator[SshdServer]:
    """The server's files under ``tmp_path/sshd``; SFTP serves ``tmp_path/sftp-root``."""
    server = start_sshd(tmp_path / "sshd", tmp_path / "sftp-root")
    yield server
    server.stop()
