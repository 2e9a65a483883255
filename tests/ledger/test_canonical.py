"""Canonical JSON: one byte string per logical entry, and clear refusals for what JSON cannot carry exactly."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import CanonicalError, canonical_entry, canonical_json

JST = timezone(timedelta(hours=9))


def test_sorted_compact_utf8() -> None:
    value = {"氏名": "新宿 太郎", "b": [1, True, None], "a": {"z": "", "y": -3}}
    assert canonical_json(value) == '{"a":{"y":-3,"z":""},"b":[1,true,null],"氏名":"新宿 太郎"}'.encode()


def test_timestamps_become_utc_with_z() -> None:
    at = datetime(2026, 4, 1, 9, 0, tzinfo=JST)
    assert canonical_json({"t": at}) == b'{"t":"2026-04-01T00:00:00.000000Z"}'
    assert canonical_json({"d": date(2026, 4, 1)}) == b'{"d":"2026-04-01"}'


def test_entry_schema() -> None:
    at = datetime(2026, 8, 1, 0, 0, 0, 123456, tzinfo=UTC)
    entry = canonical_entry("package.delivered", at, {"files": 2}, contract_id="c-1")
    assert entry == (
        b'{"at":"2026-08-01T00:00:00.123456Z","contract_id":"c-1","data":{"files":2},'
        b'"kind":"package.delivered","package_id":null}'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 1.5}, r"\$\.x: floats are not allowed"),
        ({"x": math.nan}, "floats are not allowed"),
        ({"x": [math.inf]}, r"\$\.x\[0\]: floats"),
        ({"x": Decimal(1)}, "Decimal is not a JSON type"),
        ({"x": b"raw"}, "bytes is not a JSON type"),
        ({"x": {1, 2}}, "set is not a JSON type"),
        ({1: "x"}, "key 1 is not a string"),
        ({"x": 2**53}, "outside"),
        ({"x": datetime(2026, 1, 1)}, "naive datetime"),
        ({"x": "\ud800"}, "lone surrogate"),
    ],
)
def test_refusals(value: object, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical_json(value)


def test_entry_needs_a_kind_and_an_aware_time() -> None:
    with pytest.raises(CanonicalError, match="kind"):
        canonical_entry("", datetime.now(UTC), {})
    with pytest.raises(CanonicalError, match="naive"):
        canonical_entry("k", datetime(2026, 1, 1), {})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_insertion_order_does_not_matter(value: dict[str, object]) -> None:
    reversed_value = dict(reversed(list(value.items())))
    assert canonical_json(value) == canonical_json(reversed_value)
    assert b"\n" not in canonical_json(value)
