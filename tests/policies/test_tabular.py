from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from policies.errors import PolicyRefusal, RefusalCode
from policies.tabular import TableFormat, create_table, open_table, table_kind

ROWS = [["郵便番号", "住所", "氏名"], ["000-0001", "東京都見本区見本町1丁目1番1号", "佐藤　太郎"]]


def _csv(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\r\n" for row in rows)


def _read(path: Path, encoding: str | None = None) -> tuple[TableFormat, tuple[str, ...], list[list[str]]]:
    with open_table(path, encoding=encoding) as table:
        return table.format, table.header, list(table)


@pytest.mark.parametrize(
    ("raw_encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")]
)
def test_encodings_are_detected(tmp_path: Path, raw_encoding: str, detected: str) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(_csv(ROWS).encode(raw_encoding))
    fmt, header, rows = _read(path)
    assert fmt == TableFormat("csv", detected)
    assert header == tuple(ROWS[0])
    assert rows == ROWS[1:]


def test_utf8_character_cut_at_detection_boundary(tmp_path: Path) -> None:
    # 'あ' is 3 bytes; place it across the 64 KiB chunk edge, after an ASCII-only prefix.
    path = tmp_path / "a.csv"
    path.write_bytes(f"name\r\n{'a' * 65527}\r\nあ\r\n".encode())
    assert path.read_bytes().index("あ".encode()) < 65536 < path.read_bytes().index("あ".encode()) + 3
    fmt, _, rows = _read(path)
    assert fmt.encoding == "utf-8"
    assert rows[-1] == ["あ"]


def test_ascii_prefix_then_cp932_is_refused_with_offset(tmp_path: Path) -> None:
    body = b"name\r\n" + (b"x" * 1000 + b"\r\n") * 4200 + "佐藤\r\n".encode("cp932")
    path = tmp_path / "a.csv"
    path.write_bytes(body)
    with pytest.raises(PolicyRefusal) as caught:
        _read(path)
    assert caught.value.code is RefusalCode.ENCODING
    assert f"先頭から{len(body) - 5}バイト目" in caught.value.reason
    assert "4202行目" in caught.value.reason
    assert _read(path, encoding="cp932")[2][-1] == ["佐藤"]


def test_broken_cp932_bytes_name_line_and_offset(tmp_path: Path) -> None:
    good = _csv(ROWS).encode("cp932")
    path = tmp_path / "a.csv"
    path.write_bytes(good + b"000-0002,\x82\xff,x\r\n")
    with pytest.raises(PolicyRefusal) as caught:
        _read(path)
    assert caught.value.code is RefusalCode.ENCODING
    assert "3行目" in caught.value.reason
    assert f"先頭から{len(good) + 10}バイト目: 82" in caught.value.reason
    assert "Shift_JIS" in caught.value.reason


def test_broken_utf8_after_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(codecs.BOM_UTF8 + "氏名\r\n".encode() + b"\xe4\xbd\r\n")
    with pytest.raises(PolicyRefusal) as caught:
        _read(path)
    assert "UTF-8（BOM付き）" in caught.value.reason
    assert "2行目" in caught.value.reason
    assert "先頭から12バイト目: E4 BD" in caught.value.reason


def test_embedded_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes('住所,氏名\r\n"見本区\r\n見本町",佐藤\r\n\r\n"a""b",c\r\n'.encode("cp932"))
    _, _, rows = _read(path)
    assert rows == [["見本区\r\n見本町", "佐藤"], ['a"b', "c"]]


def test_unclosed_quote_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b'a,b\r\n"x,y\r\n')
    with pytest.raises(PolicyRefusal) as caught:
        _read(path)
    assert caught.value.code is RefusalCode.MALFORMED


def test_unsupported_encoding_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a\r\n")
    with pytest.raises(ValueError, match="unsupported"):
        _read(path, encoding="latin-1")
    assert table_kind(Path("x.PDF")) is None
    assert table_kind(Path("x.XLSX")) == "xlsx"
    with pytest.raises(ValueError, match="not a tabular"):
        _read(tmp_path / "x.pdf")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_round_trip_keeps_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "out.csv"
    with create_table(path, TableFormat("csv", encoding), ROWS[0]) as writer:
        writer.write(ROWS[1])
        writer.write(["1", "改行\nあり", "x"])
    assert path.read_bytes().startswith(codecs.BOM_UTF8) == (encoding == "utf-8-sig")
    fmt, _, rows = _read(path)
    assert fmt.encoding == encoding
    assert rows == [ROWS[1], ["1", "改行\nあり", "x"]]
    assert writer.count == 2


def test_cp932_unrepresentable_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyRefusal) as caught:
        with create_table(tmp_path / "o.csv", TableFormat("csv", "cp932"), ["氏名"]) as writer:
            writer.write(["佐藤"])
            writer.write(["𠮷田"])
    assert caught.value.code is RefusalCode.UNREPRESENTABLE
    assert "2件目" in caught.value.reason
    assert "𠮷" in caught.value.reason


def test_xlsx_read_converts_cells_and_trims_padding(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["氏名", "生年月日", "金額", "可否"])
    sheet.append(["佐藤", date(1950, 4, 1), 100000.0, True])
    sheet.append(["鈴木", datetime(1960, 1, 2, 3, 4), 1.5])
    sheet.append([None, None, None, None])
    sheet.cell(row=5, column=6, value=None)
    book.save(path)
    fmt, header, rows = _read(path)
    assert fmt == TableFormat("xlsx")
    assert header == ("氏名", "生年月日", "金額", "可否")
    assert rows == [["佐藤", "1950-04-01", "100000", "TRUE"], ["鈴木", "1960-01-02 03:04:00", "1.5", ""]]


def test_xlsx_write_round_trip_keeps_text(tmp_path: Path) -> None:
    path = tmp_path / "o.xlsx"
    with create_table(path, TableFormat("xlsx"), ["郵便番号"]) as writer:
        writer.write(["000-0001"])
        writer.write(["0123"])
    assert _read(path)[2] == [["000-0001"], ["0123"]]


def test_xlsx_illegal_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyRefusal) as caught:
        with create_table(tmp_path / "o.xlsx", TableFormat("xlsx"), ["a"]) as writer:
            writer.write(["bad\x01"])
    assert caught.value.code is RefusalCode.UNREPRESENTABLE


def test_corrupt_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(PolicyRefusal) as caught:
        _read(path)
    assert caught.value.code is RefusalCode.MALFORMED
