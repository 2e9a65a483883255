"""A package proves itself: what pack writes is read back and must match what the register will say."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exchange.packing.packer import Manifest, PackResult, PackSource, pack, prove_packed
from exchange.packing.proof import PackageProofError
from exchange.passwords.generate import new_package_password
from policies.tabular import TableFormat, create_table

CREATED = datetime(2026, 12, 3, 1, 2, 3, tzinfo=UTC)
MANIFEST = Manifest("PKG-PROOF", "C-2026-013", "証明テスト業務", "株式会社テスト委託", CREATED)
HEADER = ["申請受付番号", "氏名", "住所"]


def write_table(path: Path, rows: int, fmt: TableFormat) -> int:
    """A table of ``rows`` records (one of them spans two lines, as addresses do), plus two empty rows."""
    with create_table(path, fmt, HEADER) as writer:
        for n in range(rows):
            writer.write([f"{n:08d}", f"佐藤　太郎{n}", "見本区\r\n見本町" if n == 3 else f"東京都見本区{n}番"])
        writer.write(["", "", ""])
        writer.write(["", "", ""])
    return writer.records


def packed_csv(tmp_path: Path, *, level: int = 6, rows: int = 30_000) -> tuple[PackResult, str]:
    src = tmp_path / "対象者一覧.csv"
    records = write_table(src, rows, TableFormat("csv", "cp932"))
    password = new_package_password()
    result = pack([PackSource(src.name, src, records)], MANIFEST, password, tmp_path / "p.zip", level=level)
    return result, password


def proof_error(result: PackResult, password: str) -> str:
    with result.path.open("rb") as fp, pytest.raises(PackageProofError) as caught:
        prove_packed(fp, password, result)
    message = str(caught.value)
    assert message.startswith("作成したパッケージを読み直した結果が元のデータと一致しません（")
    assert isinstance(caught.value, OSError), "a proof failure fails the attempt like an I/O error (retried)"
    return message


def first_ciphertext_offset(path: Path) -> int:
    """Where the first entry's encrypted data starts: after its local header, salt and password verifier."""
    name_length, extra_length = struct.unpack_from("<HH", path.read_bytes(), 26)
    return 30 + name_length + extra_length + 16 + 2


@pytest.mark.parametrize("level", [0, 6])
def test_a_good_package_proves_itself_and_again_when_read_back(tmp_path: Path, level: int) -> None:
    result, password = packed_csv(tmp_path, level=level)
    assert result.files[0].record_count == 30_000
    with result.path.open("rb") as fp:
        prove_packed(fp, password, result)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_encodings_are_counted_as_intake_counts_them(tmp_path: Path, encoding: str) -> None:
    src = tmp_path / "a.csv"
    records = write_table(src, 500, TableFormat("csv", encoding))
    password = new_package_password()
    result = pack([PackSource("a.csv", src, records)], MANIFEST, password, tmp_path / "p.zip")
    wrong = dataclasses.replace(result, files=(dataclasses.replace(result.files[0], record_count=records + 1),))
    assert "a.csvの件数: 読み直すと500件、記録501件" in proof_error(wrong, password)


def test_xlsx_and_untabled_members_prove_themselves(tmp_path: Path) -> None:
    sheet = tmp_path / "一覧.xlsx"
    records = write_table(sheet, 200, TableFormat("xlsx"))
    (tmp_path / "説明.pdf").write_bytes(b"%PDF-1.7 not counted")
    password = new_package_password()
    result = pack(
        [PackSource(sheet.name, sheet, records), PackSource("説明.pdf", tmp_path / "説明.pdf")],
        MANIFEST,
        password,
        tmp_path / "p.zip",
    )
    assert [f.record_count for f in result.files] == [200, None]
    sheet_file, pdf_file = result.files
    wrong = dataclasses.replace(result, files=(dataclasses.replace(sheet_file, record_count=199), pdf_file))
    assert "一覧.xlsxの件数: 読み直すと200件、記録199件" in proof_error(wrong, password)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".proof-")], "the spooled copy is removed"


def test_one_flipped_ciphertext_byte_fails_the_authentication_code(tmp_path: Path) -> None:
    result, password = packed_csv(tmp_path)
    data = bytearray(result.path.read_bytes())
    data[first_ciphertext_offset(result.path) + 1000] ^= 0x01
    result.path.write_bytes(bytes(data))
    # The whole-file hash is taken from the tampered file, so only the entry's own checks can notice.
    tampered = dataclasses.replace(result, sha256=hashlib.sha256(data).hexdigest())
    assert "対象者一覧.csv: 認証コード（HMAC）が一致しません" in proof_error(tampered, password)


def test_a_truncated_file_fails(tmp_path: Path) -> None:
    result, password = packed_csv(tmp_path)
    with result.path.open("r+b") as fp:
        fp.truncate(result.size // 2)
    assert "ファイルサイズ" in proof_error(result, password)
    # Even when the size recorded were the truncated one, the end records and the entries are missing.
    assert "途中で切れています" in proof_error(dataclasses.replace(result, size=result.size // 2), password)


def test_expectations_that_differ_are_named(tmp_path: Path) -> None:
    result, password = packed_csv(tmp_path)
    [file] = result.files
    cases = {
        "対象者一覧.csvの件数: 読み直すと30000件、記録29999件": dataclasses.replace(file, record_count=29_999),
        "対象者一覧.csvのSHA-256が記録と異なります": dataclasses.replace(file, sha256="0" * 64),
        f"対象者一覧.csvのサイズ: 展開後{file.size}バイト、記録{file.size - 1}バイト": dataclasses.replace(
            file, size=file.size - 1
        ),
        "収められたファイルが記録と異なります": dataclasses.replace(file, name="別名.csv"),
    }
    for expected, changed in cases.items():
        assert expected in proof_error(dataclasses.replace(result, files=(changed,)), password)
    manifest = result.manifest_json.replace(b"PKG-PROOF", b"PKG-OTHER")
    assert "manifest.jsonのSHA-256が記録と異なります" in proof_error(
        dataclasses.replace(result, manifest_json=manifest), password
    )
    assert "ファイル全体のSHA-256が記録と異なります" in proof_error(
        dataclasses.replace(result, sha256="0" * 64), password
    )
    assert "パスワードの確認値が一致しません" in proof_error(result, "WrongPassword-123456")


def test_a_local_header_that_disagrees_with_the_directory_fails(tmp_path: Path) -> None:
    result, password = packed_csv(tmp_path, rows=10)
    data = bytearray(result.path.read_bytes())
    data[30] ^= 0x01  # the first byte of the local header's name; the central directory keeps the real one
    result.path.write_bytes(bytes(data))
    tampered = dataclasses.replace(result, sha256=hashlib.sha256(data).hexdigest())
    assert "ローカルヘッダーが中央ディレクトリと一致しません" in proof_error(tampered, password)


def test_a_source_that_changes_while_packed_is_not_packed(tmp_path: Path) -> None:
    """A source appended to while it is read (another writer in the work folder) fails the attempt."""
    src = tmp_path / "a.bin"
    src.write_bytes(bytes(3 * 1024 * 1024))
    dest = tmp_path / "p.zip"
    dest.write_bytes(b"previous")

    def grow(read: int) -> None:
        if read == 1024 * 1024:
            with src.open("ab") as more:
                more.write(b"late")

    with pytest.raises(PackageProofError, match="読み取り中にサイズが3145728から3145732バイトに変わりました"):
        pack([PackSource("a.bin", src)], MANIFEST, new_package_password(), dest, progress=grow)
    assert dest.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "p.zip"]


def test_a_csv_member_is_read_again_after_a_long_ascii_start(tmp_path: Path) -> None:
    """Encoding detection reads 4 MiB of ASCII, then rewinds: the member restarts and is proven in one pass."""
    src = tmp_path / "b.csv"
    with create_table(src, TableFormat("csv", "utf-8"), HEADER) as writer:
        for n in range(120_000):
            writer.write([f"{n:08d}", "sato", "x" * 20])
        writer.write(["99999999", "佐藤", "見本区"])
    assert src.stat().st_size > 4 * 1024 * 1024
    password = new_package_password()
    result = pack([PackSource("b.csv", src, writer.records)], MANIFEST, password, tmp_path / "p.zip")
    wrong = dataclasses.replace(result, files=(dataclasses.replace(result.files[0], record_count=120_000),))
    assert "読み直すと120001件、記録120000件" in proof_error(wrong, password)
