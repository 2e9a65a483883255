from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from ledger.wareki import (
    JST,
    JstParseError,
    fiscal_year,
    format_jst,
    jst_date,
    jst_midnight,
    parse_jst,
    to_wareki,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 25), "令和8年11月25日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_era_boundaries(day: date, expected: str) -> None:
    assert to_wareki(day) == expected


def test_aware_datetimes_are_read_in_japan_time() -> None:
    # 2019-04-30 15:00 UTC is already 令和 in Tokyo.
    assert to_wareki(datetime(2019, 4, 30, 15, 0, tzinfo=UTC)) == "令和元年5月1日"
    assert to_wareki(datetime(2019, 4, 30, 14, 59, tzinfo=UTC)) == "平成31年4月30日"
    with pytest.raises(ValueError, match="timezone-aware"):
        to_wareki(datetime(2026, 1, 1))


def test_dates_before_the_gregorian_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="1873"):
        to_wareki(date(1872, 12, 31))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 4, 1), 2026),
        (date(2026, 3, 31), 2025),
        (date(2027, 3, 31), 2026),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),
    ],
)
def test_fiscal_year_runs_april_to_march(day: date, expected: int) -> None:
    assert fiscal_year(day) == expected


def test_fiscal_year_of_an_aware_datetime_uses_japan_time() -> None:
    assert fiscal_year(datetime(2026, 3, 31, 15, 0, tzinfo=UTC)) == 2026  # 4月1日 0:00 JST


def test_jst_date_is_the_day_in_tokyo_and_refuses_naive_moments() -> None:
    assert jst_date(datetime(2026, 3, 31, 15, 0, tzinfo=UTC)) == date(2026, 4, 1)
    assert jst_date(datetime(2026, 3, 31, 14, 59, tzinfo=UTC)) == date(2026, 3, 31)
    with pytest.raises(ValueError, match="timezone-aware"):
        jst_date(datetime(2026, 4, 1))


def test_jst_midnight_is_the_start_of_the_day_in_tokyo() -> None:
    assert jst_midnight(date(2026, 4, 1)) == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert jst_midnight(date(2026, 4, 1)).tzinfo is JST


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Tokyo"])
def host_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_typed_times_are_japan_time_whatever_the_host_zone(host_zone: str) -> None:
    expected = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    for typed in ("2026-12-02T10:00", "2026-12-02 10:00", " 2026-12-02T10:00:00 ", "2026-12-02T01:00Z"):
        assert parse_jst(typed) == expected, (host_zone, typed)
    assert parse_jst(datetime(2026, 12, 2, 10, 0)) == expected  # a naive value from a CLI option
    assert format_jst(expected) == "2026-12-02 10:00"
    assert format_jst(expected, seconds=True) == "2026-12-02 10:00:00"
    assert format_jst(None) == "—"


def test_unreadable_times_are_refused_in_japanese() -> None:
    with pytest.raises(JstParseError, match="日本時間"):
        parse_jst("12/02 10時")
    with pytest.raises(ValueError, match="naive"):
        format_jst(datetime(2026, 12, 2, 10, 0))
