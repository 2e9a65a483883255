"""Real external services the tests start, and the skip-or-fail switch for when one is missing.

The fixture modules here (``sshd``, ``clamd``, ``box``, ``tmpfs``, ``moto_s3``) are registered once with
``pytest_plugins`` in ``tests/conftest.py``, so any test asks for their fixtures by name.

CI sets ``HANDOVER_REQUIRE_SERVICES=1``: then a missing service is a test failure, not a skip, so a green run
proves that PostgreSQL, sshd, the S3 server, Chromium, ClamAV and 7-Zip really took part.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def services_required() -> bool:
    return os.environ.get("HANDOVER_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when the services are required."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """Return the path of ``name`` on PATH, or skip/fail saying it is missing."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed")
        raise AssertionError("unreachable")
    return path


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
