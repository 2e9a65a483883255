"""Ledger-only fixtures: a signing key."""

from __future__ import annotations

import pytest

from ledger.tlog.checkpoint import SigningKey


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate("handover.test")
