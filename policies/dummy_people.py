"""Synthetic people for dummy data (C-15): nobody real, and obviously fake where it matters.

Names combine common surnames and given names (any combination may exist in life, but none is taken from a
record); addresses are in the fictional 東京都見本区 with invented towns; postal codes start with ``000``
(unassigned in Japan), phone numbers are ``03-0000-xxxx`` and accounts are at ``見本銀行``. Every string is
encodable in CP932 so that dummy files exercise the Shift_JIS path.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

SURNAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
)  # fmt: skip
GIVEN_NAMES = (
    "太郎", "花子", "一郎", "陽子", "健一", "美咲", "大輔", "恵子", "翔太", "由美",
    "誠", "直美", "拓也", "真由美", "浩", "さくら", "隆", "明美", "悠斗", "幸子",
)  # fmt: skip
WARD = "東京都見本区"
TOWNS = ("見本町", "試験町", "仮名町", "架空台", "模擬坂", "例示通")
_STREET_NUMBERS = len(TOWNS) * 5 * 30 * 20


@dataclass(frozen=True)
class DummyPerson:
    """One synthetic person with a household number shared by the members of a household."""

    household: str
    name: str
    birth: date
    postal_code: str
    address: str
    phone: str
    account: str


class DummyPeople:
    """Reproducible stream of synthetic people (same ``seed``, same people)."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._count = 0

    def person(self, *, born_after: date = date(1930, 1, 1), born_before: date = date(2005, 12, 31)) -> DummyPerson:
        rnd = self._random
        self._count += 1
        span = (born_before - born_after).days
        # A bijective walk over the 18,000 street numbers keeps addresses unique (one household each), so
        # duplicate-household checks do not fire on dummy data; beyond that, room numbers keep them apart.
        spot = self._count * 7919 % _STREET_NUMBERS
        building = self._count // _STREET_NUMBERS
        town, rest = divmod(spot, _STREET_NUMBERS // len(TOWNS))
        chome, rest = divmod(rest, 600)
        ban, go = divmod(rest, 20)
        room = f"　見本住宅{building}号室" if building else ""
        return DummyPerson(
            household=f"D{self._count:08d}",
            name=f"{rnd.choice(SURNAMES)}　{rnd.choice(GIVEN_NAMES)}",
            birth=born_after + timedelta(days=rnd.randrange(span)),
            postal_code=f"000-00{town:02d}",
            address=f"{WARD}{TOWNS[town]}{chome + 1}丁目{ban + 1}番{go + 1}号{room}",
            phone=f"03-0000-{rnd.randrange(10000):04d}",
            account=f"見本銀行 試験支店 普通 {rnd.randrange(10_000_000):07d}",
        )

    def choice(self, options: tuple[str, ...]) -> str:
        return self._random.choice(options)

    def randint(self, low: int, high: int) -> int:
        return self._random.randint(low, high)
