"""nginx accepts the example proxy configuration, and it matches the hub's settings and limits."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exchange.inbound.uploads import MAX_BYTES
from tests.services import free_port, require_binary

HOST = "handover.ward.example.lg.jp"
LISTEN = re.compile(r"listen\s+\S+?(\s[^;]*)?;")


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


def test_nginx_accepts_the_example(deploy_dir: Path, tmp_path: Path) -> None:
    nginx = require_binary("nginx")
    cert, key = self_signed(tmp_path)
    example = (deploy_dir / "nginx" / "handover.conf").read_text(encoding="utf-8")
    # Only the certificate's place changes; the rest is the file as shipped.
    site = example.replace("/etc/nginx/tls/handover.crt", str(cert)).replace("/etc/nginx/tls/handover.key", str(key))
    assert site != example
    # ... and where it listens: nginx -t binds every listener, so each gets a free loopback port.
    site = LISTEN.sub(lambda match: f"listen 127.0.0.1:{free_port()}{match.group(1) or ''};", site)
    (tmp_path / "handover.conf").write_text(site, encoding="utf-8")
    temp = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = (
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log {tmp_path}/access.log;\n{temp}    include {tmp_path}/handover.conf;\n}}\n"
    )
    (tmp_path / "nginx.conf").write_text(main, encoding="utf-8")
    result = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def directive(config: str, name: str) -> list[str]:
    return re.findall(rf"^[ \t]*{name}[ \t]+([^;{{}}\n]+);", config, flags=re.MULTILINE)


def test_the_example_matches_the_hub(deploy_dir: Path) -> None:
    config = (deploy_dir / "nginx" / "handover.conf").read_text(encoding="utf-8")
    with (deploy_dir / "hub.toml").open("rb") as handle:
        web = tomllib.load(handle)["web"]

    # The upstream is where the hub listens, and nginx's address there is one the hub trusts.
    [upstream] = directive(config, "server")
    assert upstream.split()[0] == f"{web['host']}:{web['port']}"
    trusted = [ipaddress.ip_network(cidr) for cidr in web["trusted_proxies"]]
    assert any(ipaddress.ip_address(web["host"]) in network for network in trusted)
    assert web["public_url"] == f"https://{HOST}"

    # Uploads up to the portal's limit get through, streamed; downloads are not buffered.
    [body] = directive(config, "client_max_body_size")
    assert body.endswith("m") and int(body[:-1]) * 1024 * 1024 > MAX_BYTES
    assert directive(config, "proxy_request_buffering") == ["off"]
    assert directive(config, "proxy_buffering") == ["off"]
    assert directive(config, "proxy_max_temp_file_size") == ["0"]

    # TLS 1.2+ with forward-secret AEAD suites, HSTS, Secure cookies.
    assert directive(config, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    [ciphers] = directive(config, "ssl_ciphers")
    assert all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers.split(":"))
    assert any("Strict-Transport-Security" in header for header in directive(config, "add_header"))
    assert directive(config, "proxy_cookie_flags") == ["~ secure"]

    # Every proxied location passes the client's address; /metrics is not served on the public listener.
    assert len(directive(config, "proxy_set_header X-Forwarded-For")) == len(directive(config, "proxy_pass"))
    public = config.split("listen 443")[1].split("\nserver {")[0]
    assert "location = /metrics {\n        return 404;" in public
    # The internal listener's scraper is one the hub lets in.
    [scraper] = directive(config, "allow")
    allowed = [ipaddress.ip_network(cidr) for cidr in web["metrics_allow"]]
    assert any(ipaddress.ip_address(scraper) in network for network in allowed)
