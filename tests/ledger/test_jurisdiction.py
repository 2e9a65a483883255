"""C-14: the one test of a declared jurisdiction, shared by settings, connectors and the route rule."""

from __future__ import annotations

import pytest

from connectors.base import Jurisdiction
from ledger.jurisdiction import is_domestic


@pytest.mark.parametrize(("country", "domestic"), [("jp", True), ("JP", True), ("us", False), ("", False)])
def test_only_japan_is_domestic_and_every_caller_agrees(country: str, domestic: bool) -> None:
    assert is_domestic(country) is domestic
    assert Jurisdiction(country=country, region="tokyo").is_japan is domestic
