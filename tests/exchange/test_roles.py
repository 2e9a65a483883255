"""``--role`` values: one name or several joined by commas, repeated or not, in the canonical order."""

from __future__ import annotations

import pytest

from exchange.roles import Role, UnknownRole, parse_roles, role_of


def test_roles_are_read_comma_separated_or_repeated_once_each_in_order() -> None:
    assert parse_roles(["scheduler,web", "web"]) == (Role.WEB, Role.SCHEDULER)
    assert parse_roles([" Worker "]) == (Role.WORKER,)
    assert parse_roles([]) == ()


def test_an_unknown_role_names_the_valid_ones() -> None:
    with pytest.raises(UnknownRole, match="unknown role 'mailer': the roles are web, worker, scheduler"):
        parse_roles(["web,mailer"])


def test_each_loop_belongs_to_its_role() -> None:
    assert role_of("intake.work#3") == Role.WORKER
    assert role_of("intake.scan") == Role.WORKER
    assert role_of("duties") == Role.SCHEDULER
    assert role_of("heartbeat") is None
