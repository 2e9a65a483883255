from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from policies.dummy import UnknownProgramError, write_dummy_csv
from policies.dummy_people import GIVEN_NAMES, SURNAMES, TOWNS, WARD, DummyPeople
from policies.tabular import open_table

PROGRAMS = ("seikatsu-hogo-tsuika", "kaigo-hokenryo", "aircon-josei")


def test_all_name_parts_are_cp932() -> None:
    for text in (*SURNAMES, *GIVEN_NAMES, *TOWNS, WARD):
        assert text.encode("cp932").decode("cp932") == text


def test_people_are_obviously_dummy_and_reproducible() -> None:
    people = [DummyPeople(7).person() for _ in range(1)] + [DummyPeople(7).person()]
    assert people[0] == people[1]
    for person in (DummyPeople(1).person() for _ in range(50)):
        assert person.address.startswith(WARD)
        assert person.phone.startswith("03-0000-")
        assert person.postal_code.startswith("000-")
        assert person.account.startswith("見本銀行")


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_round_trip(tmp_path: Path, program: str, encoding: str) -> None:
    out = tmp_path / "dummy.csv"
    assert write_dummy_csv(program, 500, out, encoding, seed=2) == 500
    assert out.read_bytes().startswith(codecs.BOM_UTF8) == (encoding == "utf-8-sig")
    with open_table(out) as table:
        assert table.format.encoding == encoding
        rows = list(table)
    assert len(rows) == 500
    assert all(len(row) == len(table.header) for row in rows)
    again = tmp_path / "again.csv"
    write_dummy_csv(program, 500, again, encoding, seed=2)
    assert again.read_bytes() == out.read_bytes()


def test_unknown_program(tmp_path: Path) -> None:
    with pytest.raises(UnknownProgramError, match="nope"):
        write_dummy_csv("nope", 1, tmp_path / "x.csv")
