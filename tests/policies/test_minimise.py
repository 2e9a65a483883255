from __future__ import annotations

import codecs
import tracemalloc
from pathlib import Path

import pytest

from policies.errors import PolicyRefusal, RefusalCode
from policies.minimise import RecipientItems, minimise, plan_columns
from policies.screening import ScreeningPolicy
from policies.tabular import TableFormat, create_table, open_table

S1_ITEMS = ("郵便番号", "住所", "氏名", "保護の種類及び程度", "対象期間", "保護決定理由", "振込先口座情報")
PRINTER = RecipientItems(allowed=S1_ITEMS[:-1], drop=frozenset({"振込先口座情報"}))
SOURCE_HEADER = ["〒", "住所", "氏名", "保護の種類及び程度", "対象期間", "保護決定理由", "振込先口座情報"]
ROW = ["000-0001", "東京都見本区見本町1丁目1番1号", "佐藤　太郎", "生活扶助", "平成25年8月～", "追加給付", "見本銀行"]


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "cp932") -> Path:
    fmt = TableFormat("xlsx") if path.suffix == ".xlsx" else TableFormat("csv", encoding)
    with create_table(path, fmt, header) as writer:
        for row in rows:
            writer.write(row)
    return path


def _read(path: Path) -> tuple[TableFormat, tuple[str, ...], list[list[str]]]:
    with open_table(path) as table:
        return table.format, table.header, list(table)


def test_printer_gets_items_without_account_in_canonical_names(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", SOURCE_HEADER, [ROW, ROW])
    result = minimise(source, tmp_path / "out.csv", PRINTER)
    assert result.records == 2
    assert result.columns == S1_ITEMS[:-1]
    assert result.dropped == ("振込先口座情報",)
    fmt, header, rows = _read(tmp_path / "out.csv")
    assert fmt == TableFormat("csv", "cp932")
    assert header == S1_ITEMS[:-1]
    assert rows == [ROW[:-1], ROW[:-1]]


def test_output_order_follows_contract_and_keeps_bom(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["氏名", "郵便番号"], [["佐藤", "000-0001"]], "utf-8-sig")
    items = RecipientItems(allowed=("郵便番号", "氏名"))
    minimise(source, tmp_path / "out.csv", items)
    assert (tmp_path / "out.csv").read_bytes().startswith(codecs.BOM_UTF8)
    assert _read(tmp_path / "out.csv")[1:] == (("郵便番号", "氏名"), [["000-0001", "佐藤"]])


def test_output_encoding_override(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["氏名"], [["佐藤"]], "utf-8")
    result = minimise(source, tmp_path / "out.csv", RecipientItems(allowed=("氏名",), output_encoding="cp932"))
    assert result.output_format == TableFormat("csv", "cp932")
    assert (tmp_path / "out.csv").read_bytes().decode("cp932") == "氏名\r\n佐藤\r\n"


def test_contract_alias_and_width_folding() -> None:
    items = RecipientItems(allowed=("振込先口座情報", "電話番号"), aliases={"口座（振込用）": "振込先口座情報"})
    plan = plan_columns(["口座（振込用）", "ＴＥＬ"], items)
    assert plan.columns == ("振込先口座情報", "電話番号")
    assert plan.indices == (0, 1)


def test_extra_column_is_refused_naming_it(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", [*SOURCE_HEADER, "本人確認メモ"], [[*ROW, "x"]])
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", PRINTER)
    assert caught.value.code is RefusalCode.EXTRA_COLUMNS
    assert "「本人確認メモ」" in caught.value.reason
    assert "振込先口座情報" not in caught.value.reason
    assert not (tmp_path / "out.csv").exists()


def test_missing_required_column_is_refused_and_optional_is_not(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["郵便番号", "氏名"], [["000-0001", "佐藤"]])
    items = RecipientItems(allowed=("郵便番号", "住所", "氏名"))
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", items)
    assert caught.value.code is RefusalCode.MISSING_COLUMNS
    assert "「住所」" in caught.value.reason
    optional = RecipientItems(allowed=items.allowed, optional=frozenset({"住所"}))
    assert minimise(source, tmp_path / "out.csv", optional).columns == ("郵便番号", "氏名")


def test_alias_and_canonical_both_present_is_ambiguous() -> None:
    with pytest.raises(PolicyRefusal) as caught:
        plan_columns(["〒", "郵便番号"], RecipientItems(allowed=("郵便番号",)))
    assert caught.value.code is RefusalCode.DUPLICATE_COLUMNS
    assert "「〒」、「郵便番号」" in caught.value.reason


def test_row_with_wrong_width_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("氏名,住所\r\n佐藤,見本区\r\n鈴木\r\n".encode())
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", RecipientItems(allowed=("氏名", "住所")))
    assert caught.value.code is RefusalCode.ROW_LENGTH
    assert "2件目" in caught.value.reason
    assert not (tmp_path / "out.csv").exists()


def test_blank_named_column_passes_when_empty_and_is_refused_with_values(tmp_path: Path) -> None:
    items = RecipientItems(allowed=("氏名",))
    empty = tmp_path / "empty.csv"
    empty.write_bytes("氏名,\r\n佐藤,\r\n".encode())
    assert minimise(empty, tmp_path / "out.csv", items).records == 1
    filled = tmp_path / "filled.csv"
    filled.write_bytes("氏名,\r\n佐藤,秘密\r\n".encode())
    with pytest.raises(PolicyRefusal) as caught:
        minimise(filled, tmp_path / "out.csv", items)
    assert caught.value.code is RefusalCode.EXTRA_COLUMNS


def test_embedded_newlines_survive(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["氏名", "住所"], [["佐藤", "見本区\r\n見本町"]])
    minimise(source, tmp_path / "out.csv", RecipientItems(allowed=("住所",), drop=frozenset({"氏名"})))
    assert _read(tmp_path / "out.csv")[2] == [["見本区\r\n見本町"]]


def test_xlsx_is_minimised_to_xlsx(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.xlsx", SOURCE_HEADER, [ROW])
    result = minimise(source, tmp_path / "out.xlsx", PRINTER)
    assert result.output_format == TableFormat("xlsx")
    assert _read(tmp_path / "out.xlsx")[1:] == (S1_ITEMS[:-1], [ROW[:-1]])


def test_xlsx_refused_when_not_an_allowed_type(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.xlsx", ["氏名"], [["佐藤"]])
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.xlsx", RecipientItems(allowed=("氏名",), file_types=frozenset({"csv"})))
    assert caught.value.code is RefusalCode.FILE_TYPE


def test_pdf_passes_only_when_allowed(tmp_path: Path) -> None:
    source = tmp_path / "通知書.pdf"
    source.write_bytes(b"%PDF-1.7 dummy")
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.pdf", RecipientItems(allowed=("氏名",)))
    assert "「pdf」" in caught.value.reason
    items = RecipientItems(allowed=("氏名",), file_types=frozenset({"csv", "pdf"}))
    assert minimise(source, tmp_path / "out.pdf", items).records is None
    assert (tmp_path / "out.pdf").read_bytes() == b"%PDF-1.7 dummy"


def test_forbidden_output_column_is_screened(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["氏名", "本籍地"], [["佐藤", "見本県"]])
    items = RecipientItems(allowed=("氏名", "本籍地"))
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", items)
    assert caught.value.code is RefusalCode.FORBIDDEN_CATEGORY
    dropped = RecipientItems(allowed=("氏名",), drop=frozenset({"本籍地"}))
    assert minimise(source, tmp_path / "out.csv", dropped).records == 1


def test_value_screening_runs_on_output_rows(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["氏名", "備考"], [["佐藤", "なし"], ["鈴木", "前科あり"]])
    items = RecipientItems(allowed=("氏名", "備考"))
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", items, screening=ScreeningPolicy(scan_values=True))
    assert "2件目" in caught.value.reason
    assert minimise(source, tmp_path / "out.csv", items).records == 2


def test_forced_source_encoding(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("氏名\r\n佐藤\r\n".encode("cp932"))
    with pytest.raises(PolicyRefusal) as caught:
        minimise(source, tmp_path / "out.csv", RecipientItems(allowed=("氏名",)), encoding="utf-8")
    assert caught.value.code is RefusalCode.ENCODING


def test_memory_stays_flat_in_file_size(tmp_path: Path) -> None:
    def peak(rows: int) -> int:
        source = _write(tmp_path / f"in{rows}.csv", SOURCE_HEADER, [ROW] * rows)
        tracemalloc.start()
        try:
            minimise(source, tmp_path / "out.csv", PRINTER)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(20_000)
    assert large < small * 1.5 + 100_000


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_rows_left_empty_by_minimising_are_not_counted(tmp_path: Path, suffix: str) -> None:
    """A row whose only values are in dropped columns is written empty; a reader skips it, so it is no record
    (the package proof counts the packed file and must find the same number)."""
    source = _write(tmp_path / f"in{suffix}", ["氏名", "口座"], [["佐藤", "見本銀行"], ["", "見本銀行"]])
    items = RecipientItems(allowed=("氏名",), drop=frozenset({"口座"}), file_types=frozenset({"csv", "xlsx"}))
    result = minimise(source, tmp_path / f"out{suffix}", items)
    assert result.records == 1
    assert len(_read(tmp_path / f"out{suffix}")[2]) == 1
