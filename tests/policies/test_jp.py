from __future__ import annotations

from datetime import date

import pytest

from policies.jp import normalise_name, wareki, wareki_with_iso


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2026, 3, 1), "令和8年3月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2013, 8, 1), "平成25年8月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1900, 1, 1), "1900年1月1日"),
    ],
)
def test_wareki(day: date, text: str) -> None:
    assert wareki(day) == text


def test_wareki_with_iso_and_normalise() -> None:
    assert wareki_with_iso(date(2027, 3, 31)) == "令和9年3月31日（2027-03-31）"
    assert normalise_name(" 郵便　番号\u3000") == "郵便番号"
    assert normalise_name("ＴＥＬ") == "TEL"
