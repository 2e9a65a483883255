from __future__ import annotations

from datetime import date

import pytest

from policies.errors import PolicyRefusal, RefusalCode
from policies.plugins import aircon_josei, kaigo_hokenryo, seikatsu_hogo_tsuika
from policies.screening import (
    ForbiddenCategory,
    ScreeningApproval,
    ScreeningHit,
    ScreeningPolicy,
    ValueScreener,
    screen_columns,
)
from tests.factories import S1_COLLECTED_ITEMS

DEFAULT = ScreeningPolicy()


def _approval(*items: str) -> ScreeningApproval:
    return ScreeningApproval("福生第123号", "生活福祉課長", date(2026, 3, 1), frozenset(items))


def test_seed_scenarios_pass_the_default_list() -> None:
    columns = (
        *seikatsu_hogo_tsuika.CONTRACTOR_ITEMS,
        *S1_COLLECTED_ITEMS,
        *aircon_josei.CONTRACTOR_ITEMS,
        *kaigo_hokenryo.ITEMS,
        "障害者手帳",
        "結核治療に係る書類",
        "保護決定理由",
    )
    assert screen_columns(columns, DEFAULT) == ()
    screener = ValueScreener(ScreeningPolicy(scan_values=True), ("世帯構成",))
    screener.check(["障害者のいる世帯"], 1)
    assert screener.hits == ()


@pytest.mark.parametrize(
    ("column", "category"),
    [("本籍地", "discrimination"), ("門地", "discrimination"), ("信仰する宗教", "belief"), ("前科", "crime"),
     ("犯罪歴", "crime"), ("病歴", "health"), ("ｼﾝｺｳ宗派", "belief")],
)  # fmt: skip
def test_forbidden_column_is_refused(column: str, category: str) -> None:
    with pytest.raises(PolicyRefusal) as caught:
        screen_columns(["氏名", column], DEFAULT)
    assert caught.value.code is RefusalCode.FORBIDDEN_CATEGORY
    assert f"「{column}」" in caught.value.reason
    approved = ScreeningPolicy(approvals=(_approval(column),))
    assert screen_columns(["氏名", column], approved)[0].category == category


def test_full_width_spaces_do_not_hide_a_term() -> None:
    with pytest.raises(PolicyRefusal):
        screen_columns(["本　籍"], DEFAULT)


def test_approval_covers_only_its_items() -> None:
    policy = ScreeningPolicy(approvals=(_approval("病歴"),))
    assert screen_columns(["病歴"], policy) == (ScreeningHit("health", "病歴", "病歴"),)
    # Same category, another item: the approval document did not list it.
    for other in ("前科", "既往歴"):
        with pytest.raises(PolicyRefusal) as caught:
            screen_columns(["病歴", other], policy)
        assert f"「{other}」" in caught.value.reason
        assert "「病歴」" not in caught.value.reason
        assert "handover sensitive approve" in caught.value.reason


def test_route_specific_terms() -> None:
    policy = ScreeningPolicy(categories=(ForbiddenCategory("other", "区が指定した事項", ("国籍",)),))
    with pytest.raises(PolicyRefusal) as caught:
        screen_columns(["国籍"], policy)
    assert "区が指定した事項" in caught.value.reason
    assert screen_columns(["本籍地"], policy) == ()


def test_values_are_scanned_only_when_asked() -> None:
    ValueScreener(DEFAULT, ("備考",)).check(["前科あり"], 1)
    with pytest.raises(PolicyRefusal) as caught:
        ValueScreener(ScreeningPolicy(scan_values=True), ("備考",)).check(["前科あり"], 7)
    assert "7件目" in caught.value.reason
    assert "「備考」" in caught.value.reason


def test_approved_value_hits_are_kept_once_per_column() -> None:
    screener = ValueScreener(ScreeningPolicy(scan_values=True, approvals=(_approval("備考"),)), ("備考",))
    screener.check(["前科あり"], 1)
    screener.check(["前科なし"], 2)
    assert screener.hits == (ScreeningHit("crime", "前科", "備考", 1),)
