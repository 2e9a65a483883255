from __future__ import annotations

from datetime import date

from policies.jp import normalise_name, wareki_with_iso


def test_wareki_with_iso_and_normalise() -> None:
    assert wareki_with_iso(date(2027, 3, 31)) == "令和9年3月31日（2027-03-31）"
    assert wareki_with_iso(date(2019, 5, 1)) == "令和元年5月1日（2019-05-01）"
    assert normalise_name(" 郵便　番号\u3000") == "郵便番号"
    assert normalise_name("ＴＥＬ") == "TEL"
