"""nginx accepts the example proxy configuration, and it matches the hub's settings and limits."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import tomllib
from pathlib import Path

from exchange.inbound.uploads import MAX_BYTES
from tests.deploy.nginx import HOST, prepare
from tests.services import require_binary


def test_nginx_accepts_the_example(deploy_dir: Path, tmp_path: Path) -> None:
    nginx = require_binary("nginx")
    prepared = prepare(deploy_dir / "nginx" / "handover.conf", tmp_path)
    assert set(prepared.ports) == {"80", "443", "9180"}
    result = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(prepared.main)], capture_output=True, text=True, timeout=60
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
