"""Example third-party plugin: default items for the program ``example-program``."""

from __future__ import annotations

from collections.abc import Mapping

from policies.hookspecs import hookimpl

PROGRAMS = frozenset({"example-program"})


@hookimpl
def default_items(role: str, settings: Mapping[str, object]) -> tuple[str, ...] | None:
    if role != "contractor":
        return None
    extra = settings.get("extra_item")
    return ("氏名", "住所", *((str(extra),) if extra else ()))
