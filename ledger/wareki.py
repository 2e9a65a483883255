"""Japan time: the one ``JST``, JST calendar days, 和暦 (Japanese era) dates and fiscal years (年度).

Contract periods, due dates and fiscal years are JST calendar days whatever the server's own time zone, so every
module takes the zone and the day of a moment from here. Moments are stored in UTC; every datetime a person types
(a portal form, a CLI option) goes through ``parse_jst`` and every datetime a person reads through ``format_jst``,
so the server's own zone (``TZ``) never decides what a wall-clock time means.

和暦 is supported from 明治6年1月1日 (1873-01-01), when Japan adopted the Gregorian calendar; earlier dates were
lunisolar and a Gregorian date cannot be converted by arithmetic alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

JST: Final = ZoneInfo("Asia/Tokyo")

# (first day, era); newest first so the first match wins. 明治 counts its years from 1868.
_ERAS: Final = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1873, 1, 1), "明治"),
)
_MEIJI_FIRST_YEAR: Final = 1868


def jst_date(moment: datetime) -> date:
    """The JST calendar day of an aware moment; a naive one is refused rather than read in the server's zone."""
    if moment.tzinfo is None:
        raise ValueError("a datetime must be timezone-aware to give a Japanese date")
    return moment.astimezone(JST).date()


def jst_midnight(day: date) -> datetime:
    """The moment the JST calendar day ``day`` begins (aware)."""
    return datetime.combine(day, time(0), JST)


class JstParseError(ValueError):
    """A typed datetime that cannot be read; the message is Japanese, for the person who typed it."""


def parse_jst(value: str | datetime) -> datetime:
    """A Japan-time wall-clock datetime, as typed (``2026-12-02T10:00``, ``2026-12-02 10:00:30``) or as a naive
    value from a CLI option, as an aware UTC moment.

    A value that carries its own offset (``…+09:00``, ``…Z``) keeps it; a naive one is JST, never the server's zone.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise JstParseError(f"日時「{text}」を読み取れません（例: 2026-12-02 10:00、日本時間）。") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.astimezone(UTC)


def format_jst(moment: datetime | None, *, seconds: bool = False, empty: str = "—") -> str:
    """An aware moment as Japan time for people (``2026-12-02 10:00``); ``empty`` when there is none."""
    if moment is None:
        return empty
    if moment.tzinfo is None:
        raise ValueError("a naive datetime cannot be shown in Japan time")
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _local_date(day: date) -> date:
    return jst_date(day) if isinstance(day, datetime) else day


def to_wareki(day: date) -> str:
    """``令和8年11月25日``; the first year of an era is 元年. Aware datetimes are taken in JST."""
    local = _local_date(day)
    for start, era in _ERAS:
        if local >= start:
            first_year = _MEIJI_FIRST_YEAR if era == "明治" else start.year
            year = local.year - first_year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{era}{year_text}年{local.month}月{local.day}日"
    raise ValueError(f"{local.isoformat()} is before 1873-01-01; 和暦 conversion is not supported")


def fiscal_year(day: date) -> int:
    """The Japanese fiscal year (年度, April to March) as the 西暦 year it starts in."""
    local = _local_date(day)
    return local.year if local.month >= 4 else local.year - 1
