from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from policies.channels import DataChannel, PasswordChannel
from policies.errors import RefusalCode
from policies.split_password import (
    RELEASED,
    Designation,
    ReleaseDecision,
    ReleaseRequest,
    SplitPasswordRule,
)
from tests.factories import S1_CONTRACT as CONTRACT

DELIVERED = datetime(2026, 8, 1, 10)
RULE = SplitPasswordRule()
REQUEST = ReleaseRequest(
    contract=CONTRACT,
    recipient_id="handler-1",
    designations=(
        Designation("manager-1", CONTRACT.public_id, "manager"),
        Designation("handler-1", CONTRACT.public_id, "handler"),
        Designation("viewer-1", CONTRACT.public_id, "viewer"),
        Designation("handler-2", "K-OTHER", "handler"),
    ),
    password_channel=PasswordChannel.PORTAL,
    data_channels=frozenset({DataChannel.SFTP}),
    delivered_at=DELIVERED,
    acknowledged_at=DELIVERED + timedelta(hours=1),
    now=DELIVERED + timedelta(hours=2),
    today=date(2026, 8, 1),
)


def _refused(request: ReleaseRequest, code: RefusalCode) -> ReleaseDecision:
    decision = RULE.decide(request)
    assert not decision.allowed
    assert decision.code == code
    assert decision.channel is None
    return decision


def test_release_after_acknowledgement() -> None:
    decision = RULE.decide(REQUEST)
    assert decision.allowed
    assert decision.code == RELEASED
    assert decision.channel == "portal"
    assert "受領確認後" in decision.reason_ja


def test_manager_may_receive_it_too() -> None:
    assert RULE.decide(replace(REQUEST, recipient_id="manager-1")).allowed


def test_past_contract_period() -> None:
    decision = _refused(replace(REQUEST, today=date(2027, 4, 1)), RefusalCode.OUTSIDE_PERIOD)
    assert "契約期間外" in decision.reason_ja


@pytest.mark.parametrize("recipient", ["viewer-1", "handler-2", "stranger"])
def test_only_designated_people_on_this_contract(recipient: str) -> None:
    _refused(replace(REQUEST, recipient_id=recipient), RefusalCode.NOT_DESIGNATED)


def test_data_not_delivered() -> None:
    _refused(replace(REQUEST, delivered_at=None, acknowledged_at=None), RefusalCode.NOT_DELIVERED)


def test_without_acknowledgement_the_delay_must_pass() -> None:
    waiting = replace(REQUEST, acknowledged_at=None)
    decision = _refused(waiting, RefusalCode.TOO_EARLY)
    assert decision.retry_at == DELIVERED + timedelta(hours=24)
    released = RULE.decide(replace(waiting, now=DELIVERED + timedelta(hours=24)))
    assert released.allowed
    assert "待機時間が経過" in released.reason_ja


def test_without_delay_only_an_acknowledgement_releases() -> None:
    no_delay = replace(REQUEST, contract=replace(CONTRACT, password_delay=None), acknowledged_at=None)
    decision = _refused(replace(no_delay, now=DELIVERED + timedelta(days=30)), RefusalCode.TOO_EARLY)
    assert decision.retry_at is None
    assert "受領確認" in decision.reason_ja


@pytest.mark.parametrize(
    "acknowledged",
    [DELIVERED - timedelta(minutes=1), DELIVERED + timedelta(hours=3)],
    ids=["before-delivery", "future"],
)
def test_acknowledgement_outside_delivery_and_now_does_not_count(acknowledged: datetime) -> None:
    _refused(replace(REQUEST, acknowledged_at=acknowledged), RefusalCode.TOO_EARLY)


def test_a_password_never_takes_the_channel_the_data_took() -> None:
    downloaded = replace(REQUEST, data_channels=frozenset({DataChannel.SFTP, DataChannel.PORTAL}))
    decision = _refused(downloaded, RefusalCode.SAME_CHANNEL)
    assert "別の経路" in decision.reason_ja
    assert RULE.decide(replace(downloaded, password_channel=PasswordChannel.NOTICE)).allowed
    assert RULE.decide(replace(downloaded, password_channel=PasswordChannel.EMAIL)).allowed


def test_the_session_that_downloaded_the_data_gets_no_password() -> None:
    decision = _refused(replace(REQUEST, same_session=True), RefusalCode.SAME_SESSION)
    assert "同じログイン" in decision.reason_ja
