"""The parts of the hub one process may run (``handover serve --role``), and which background loop belongs to which.

``web`` serves the portal and the API, ``worker`` watches the folders and steps the intake pipeline, ``scheduler``
ticks the duties. Any combination may run in one process, and several processes may share one database: intake
rows and duties are claimed under leases, so the work stays exactly-once whichever processes run it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Role(enum.StrEnum):
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


ALL_ROLES: tuple[Role, ...] = tuple(Role)

# What operators read for each role.
ROLE_NAMES_JA = {Role.WEB: "ポータル", Role.WORKER: "取り込み処理", Role.SCHEDULER: "定期処理"}


class UnknownRole(ValueError):
    """A role name that is none of ``Role``; the message names the valid ones."""


def parse_roles(values: Iterable[str]) -> tuple[Role, ...]:
    """Roles from ``--role`` values, each one name or several joined by commas; in the canonical order, once each."""
    chosen: set[Role] = set()
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            try:
                chosen.add(Role(name))
            except ValueError:
                valid = ", ".join(ALL_ROLES)
                raise UnknownRole(
                    f"unknown role {name!r}: the roles are {valid} (comma-separated or repeated)"
                ) from None
    return ordered(chosen)


def ordered(roles: Iterable[Role]) -> tuple[Role, ...]:
    chosen = set(roles)
    return tuple(role for role in ALL_ROLES if role in chosen)


def role_of(component: str) -> Role | None:
    """The role a supervised loop belongs to (``intake.work#2`` → worker); None for one every process runs."""
    base = component.split("#")[0]
    if base.startswith("intake."):
        return Role.WORKER
    if base == "duties":
        return Role.SCHEDULER
    return None
