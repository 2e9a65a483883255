"""The example nginx configuration made runnable in a test folder: a throwaway certificate, free loopback ports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services import free_port

HOST = "handover.ward.example.lg.jp"
LISTEN = re.compile(r"listen\s+(\S+?)(\s[^;]*)?;")
UPSTREAM = "server 127.0.0.1:8080;"
SCRAPER = "allow 10.20.30.40;"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for the example's server name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "handover.crt", directory / "handover.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Prepared:
    """The main configuration to start nginx with, and the loopback port that stands for each example port."""

    main: Path
    cert: Path
    ports: dict[str, int] = field(default_factory=dict)


def prepare(
    example: Path, directory: Path, *, upstream_port: int | None = None, scraper: str | None = None
) -> Prepared:
    """The example as shipped, but for the certificate's place, the listeners (every one a free loopback port: nginx
    binds them even for ``-t``) and, when given, the hub's port and the scraper's address."""
    cert, key = self_signed(directory)
    site = example.read_text(encoding="utf-8")
    site = site.replace("/etc/nginx/tls/handover.crt", str(cert)).replace("/etc/nginx/tls/handover.key", str(key))
    prepared = Prepared(directory / "nginx.conf", cert)

    def listen(match: re.Match[str]) -> str:
        port = free_port()
        prepared.ports.setdefault(match.group(1).rsplit(":", 1)[-1], port)
        return f"listen 127.0.0.1:{port}{match.group(2) or ''};"

    site = LISTEN.sub(listen, site)
    if upstream_port is not None:
        assert UPSTREAM in site
        site = site.replace(UPSTREAM, f"server 127.0.0.1:{upstream_port};")
    if scraper is not None:
        assert SCRAPER in site
        site = site.replace(SCRAPER, f"allow {scraper};")
    (directory / "handover.conf").write_text(site, encoding="utf-8")
    temp = "".join(
        f"    {kind}_temp_path {directory}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # One process in the foreground, as root may run it in a test folder that only root can read.
    prepared.main.write_text(
        f"daemon off;\nmaster_process off;\npid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
        f"events {{}}\nhttp {{\n    access_log {directory}/access.log;\n{temp}"
        f"    include {directory}/handover.conf;\n}}\n",
        encoding="utf-8",
    )
    return prepared
