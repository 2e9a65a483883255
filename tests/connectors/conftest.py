"""Connector fixtures: a real OpenSSH server, one configured connector per kind, AES ZIP packages."""

from __future__ import annotations

import getpass
import hashlib
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest
import pyzipper

from connectors.base import Jurisdiction
from connectors.local import LocalConnector
from connectors.media import MediaConnector
from connectors.sftp import SftpConnector
from tests.connectors.box_fixture import box_connector, box_emulator  # noqa: F401 - shared fixtures
from tests.services import skip_or_fail

SSHD = Path("/usr/sbin/sshd")
TOKYO = Jurisdiction(country="jp", region="tokyo")
PACKAGE_PASSWORD = b"correct-horse-battery-staple-42"


@dataclass(frozen=True)
class Package:
    path: Path
    size: int
    sha256: str


def make_package(path: Path, payload: bytes, *, password: bytes = PACKAGE_PASSWORD, nbits: int = 256) -> Package:
    """A WinZip AES ZIP as the hub's packer writes it (stored, so the size follows the payload)."""
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_STORED) as archive:
        archive.setpassword(password)
        archive.setencryption(pyzipper.WZ_AES, nbits=nbits)
        archive.writestr("data.csv", payload)
    data = path.read_bytes()
    return Package(path, len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def package(tmp_path: Path) -> Package:
    return make_package(tmp_path / "生活保護追加給付_委託先A.zip", "氏名,住所\n区民 太郎,新宿区\n".encode())


@pytest.fixture
def other_package(tmp_path: Path) -> Package:
    return make_package(tmp_path / "other.zip", b"different content\n" * 10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


@pytest.fixture
def sshd_server(tmp_path: Path) -> Iterator[SshdServer]:
    """A real OpenSSH server on a free loopback port, serving SFTP from ``root`` for the current user."""
    server = start_sshd(tmp_path / "sshd", tmp_path / "sftp-root")
    yield server
    server.stop()


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
        connect_timeout=5.0,
    )


@pytest.fixture
async def sftp_connector(sshd_server: SshdServer) -> AsyncIterator[SftpConnector]:
    connector = sftp_connector_for(sshd_server)
    yield connector
    await connector.close()


@pytest.fixture
def local_connector(tmp_path: Path) -> LocalConnector:
    root = tmp_path / "outbox"
    root.mkdir()
    return LocalConnector("local-test", TOKYO, root=root)


@pytest.fixture
def media_connector(tmp_path: Path) -> MediaConnector:
    staging, images = tmp_path / "media-staging", tmp_path / "media-images"
    staging.mkdir()
    images.mkdir()
    return MediaConnector("media-test", TOKYO, staging_root=staging, image_root=images)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, to make a real ENOSPC; needs mount privileges (root with CAP_SYS_ADMIN)."""
    mount_point = tmp_path / f"tiny-{secrets.token_hex(4)}"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode(errors='replace').strip()})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
