from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from policies.errors import PolicyRefusal, RefusalCode
from policies.rules import (
    ConnectorFacts,
    check_channel,
    check_jurisdiction,
    check_period,
    check_program,
    check_subcontract_chain,
)
from tests.factories import S1_APPROVAL as APPROVED
from tests.factories import S1_CONTRACT as CONTRACT
from tests.factories import S1_PRINTER as PRINTER

NOW = datetime(2026, 8, 1, 10)


def _refused(code: RefusalCode, call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(PolicyRefusal) as caught:
        call(*args, **kwargs)
    assert caught.value.code is code
    return caught.value.reason


@pytest.mark.parametrize("day", [date(2026, 3, 1), date(2026, 8, 1), date(2027, 3, 31)])
def test_period_includes_both_ends(day: date) -> None:
    check_period(CONTRACT, day)


def test_period_refusal_names_the_period_in_wareki() -> None:
    reason = _refused(RefusalCode.OUTSIDE_PERIOD, check_period, CONTRACT, date(2027, 4, 1))
    assert "令和8年3月1日〜令和9年3月31日" in reason
    assert "令和9年4月1日（2027-04-01）" in reason
    _refused(RefusalCode.OUTSIDE_PERIOD, check_period, CONTRACT, date(2026, 2, 28))


def test_subcontract_needs_the_parent_in_force_too() -> None:
    shortened = replace(PRINTER, parent=replace(CONTRACT, end=date(2026, 9, 30)))
    check_period(shortened, date(2026, 9, 30))
    reason = _refused(RefusalCode.OUTSIDE_PERIOD, check_period, shortened, date(2026, 10, 1))
    assert "「K-2026-001」" in reason
    _refused(RefusalCode.OUTSIDE_PERIOD, check_period, PRINTER, date(2026, 3, 15))


def test_program() -> None:
    check_program(PRINTER, "seikatsu-hogo-tsuika")
    reason = _refused(RefusalCode.WRONG_PROGRAM, check_program, CONTRACT, "aircon-josei")
    assert "目的外利用" in reason
    mixed = replace(PRINTER, parent=replace(CONTRACT, program_code="kaigo-hokenryo"))
    _refused(RefusalCode.WRONG_PROGRAM, check_program, mixed, "seikatsu-hogo-tsuika")


def test_channel() -> None:
    check_channel(PRINTER, "dvd")
    assert "lgwan-sftp" in _refused(RefusalCode.CHANNEL_NOT_ALLOWED, check_channel, PRINTER, "box")
    assert "なし" in _refused(
        RefusalCode.CHANNEL_NOT_ALLOWED, check_channel, replace(PRINTER, allowed_channels=frozenset()), "box"
    )


def test_subcontract_chain_approved() -> None:
    check_subcontract_chain(CONTRACT, NOW)
    check_subcontract_chain(PRINTER, NOW)


def test_subcontract_without_or_before_approval() -> None:
    _refused(
        RefusalCode.SUBCONTRACT_UNAPPROVED, check_subcontract_chain, replace(PRINTER, subcontract_approval=None), NOW
    )
    _refused(RefusalCode.SUBCONTRACT_UNAPPROVED, check_subcontract_chain, PRINTER, datetime(2026, 3, 31))


def test_revoked_approval() -> None:
    revoked = replace(PRINTER, subcontract_approval=replace(APPROVED, revoked_at=datetime(2026, 7, 1)))
    assert "福生第45号" in _refused(RefusalCode.SUBCONTRACT_REVOKED, check_subcontract_chain, revoked, NOW)
    check_subcontract_chain(revoked, datetime(2026, 6, 30))


def test_subcontract_items_must_be_a_subset() -> None:
    wider = replace(PRINTER, allowed_items=PRINTER.allowed_items | {"振込先口座情報", "電話番号"})
    reason = _refused(RefusalCode.SUBCONTRACT_ITEMS, check_subcontract_chain, wider, NOW)
    assert "「振込先口座情報」" not in reason
    assert "「電話番号」" in reason


def test_deeper_chain_is_checked_at_every_level() -> None:
    third = replace(PRINTER, public_id="K-2026-001-S1-S1", parent=PRINTER, allowed_items=frozenset({"氏名"}))
    check_subcontract_chain(third, NOW)
    broken_middle = replace(third, parent=replace(PRINTER, subcontract_approval=None))
    reason = _refused(RefusalCode.SUBCONTRACT_UNAPPROVED, check_subcontract_chain, broken_middle, NOW)
    assert "「K-2026-001-S1」" in reason
    wide_middle = replace(third, parent=replace(PRINTER, allowed_items=PRINTER.allowed_items | {"生年月日"}))
    _refused(RefusalCode.SUBCONTRACT_ITEMS, check_subcontract_chain, wide_middle, NOW)


def test_jurisdiction() -> None:
    check_jurisdiction(PRINTER)
    foreign = replace(
        CONTRACT, connectors=(ConnectorFacts("box", "jp"), ConnectorFacts("s3-us", "us"), ConnectorFacts("x", ""))
    )
    reason = _refused(RefusalCode.JURISDICTION, check_jurisdiction, foreign)
    assert "「s3-us」（us）" in reason
    assert "「x」（未申告）" in reason
    assert "box" not in reason
    _refused(RefusalCode.NO_CONNECTOR, check_jurisdiction, replace(CONTRACT, connectors=()))
