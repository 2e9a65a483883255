"""Canonical JSON: the exact bytes that are hashed into the ledger.

The same logical entry must always give the same bytes, on any machine and in any later version of the hub,
or old leaf hashes could no longer be recomputed. The rules:

* UTF-8, keys sorted by Unicode code point, no insignificant whitespace, non-ASCII written as is;
* datetimes must be timezone-aware and are written in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; dates as
  ``YYYY-MM-DD``;
* only strings, integers within ±(2**53 - 1), booleans, null, lists/tuples and string-keyed mappings; floats
  are refused because their text form is not portable (amounts are integers, e.g. yen), and so is every other
  type, so that nothing depends on a ``default=str`` fallback.

The integer range is I-JSON's (RFC 7493): an outside verifier in JavaScript reads such numbers exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import TypeAlias

MAX_SAFE_INTEGER = 2**53 - 1

JSONValue: TypeAlias = bool | int | str | list["JSONValue"] | dict[str, "JSONValue"] | None


class CanonicalError(ValueError):
    """A value cannot be written as canonical JSON; the message names where it sits."""


def format_timestamp(value: datetime) -> str:
    """A timezone-aware datetime as UTC ISO-8601 with microseconds and ``Z``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CanonicalError("naive datetime: a ledger timestamp must carry its timezone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normalise(value: object, where: str) -> JSONValue:
    # bool before int: bool is a subclass of int and must stay true/false.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(f"{where}: integer {value} is outside ±(2**53 - 1)")
        return value
    if isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed (use an integer or a string)")
    if isinstance(value, datetime):
        try:
            return format_timestamp(value)
        except CanonicalError as exc:
            raise CanonicalError(f"{where}: {exc}") from None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{where}: key {key!r} is not a string")
            out[key] = _normalise(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise CanonicalError(f"{where}: {type(value).__name__} is not a JSON type")


def canonical_json(value: object) -> bytes:
    """The canonical UTF-8 bytes of ``value``; raises :class:`CanonicalError` for anything not allowed."""
    text = json.dumps(
        _normalise(value, "$"), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError(f"string holds a lone surrogate at {exc.start}: not valid Unicode") from None


def canonical_entry(
    kind: str,
    at: datetime,
    payload: Mapping[str, object],
    *,
    contract_id: str | None = None,
    package_id: str | None = None,
) -> bytes:
    """The bytes of one ledger entry: ``{"at", "contract_id", "data", "kind", "package_id"}``.

    The leaf index is deliberately not part of the entry: the position in the tree already binds it, and
    entries can then be built before the index is known.
    """
    if not kind:
        raise CanonicalError("kind must be a non-empty string")
    return canonical_json(
        {"kind": kind, "at": at, "contract_id": contract_id, "package_id": package_id, "data": payload}
    )
