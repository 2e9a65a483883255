"""The package ZIP against real 7-Zip (the recipients' tool) and pyzipper as an independent reader."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pyzipper

from exchange.packing.packer import MANIFEST_NAME, Manifest, PackSource, UnsafeNameError, pack, safe_member_name
from exchange.passwords.generate import new_package_password
from policies.tabular import open_table
from tests.services import require_binary

CREATED = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
MANIFEST = Manifest("PKG-0001", "C-2026-001", "生活保護 追加給付 通知作成業務", "株式会社テスト委託", CREATED)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sevenzip() -> str:
    return require_binary("7zz")


def japanese_csv(path: Path, size: int, seed: int = 1) -> bytes:
    """Half-compressible CSV: repeated field values mixed with random kanji."""
    rng = random.Random(seed)
    kanji = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    towns = ["西新宿", "歌舞伎町", "高田馬場", "大久保", "百人町"]
    rows: list[str] = []
    total = 0
    while total < size:
        row = f"{rng.randrange(10**9):09d},東京都新宿区{rng.choice(towns)},{''.join(rng.choices(kanji, k=20))}\n"
        rows.append(row)
        total += len(row.encode())
    data = "".join(rows).encode()[:size]
    path.write_bytes(data)
    return data


def whole_rows(path: Path) -> tuple[bytes, int]:
    """Cut ``path`` after its last whole line (a cut inside a character would not decode); return its bytes and
    the record count the hub reads from it, which a pack's proof compares with."""
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    path.write_bytes(data)
    with open_table(path) as table:
        return data, sum(1 for _ in table)


def seven_zip(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *args, "-sccUTF-8"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "LANG": "C.UTF-8"},
        check=False,
    )


def test_seven_zip_opens_package_with_right_password_only(tmp_path: Path, sevenzip: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    japanese_csv(src / "a.csv", 3 * 1024 * 1024 + 12345)  # several deflate blocks, odd tail
    csv, records = whole_rows(src / "a.csv")
    small = b"hello"
    (src / "b.txt").write_bytes(small)
    password = new_package_password()
    dest = tmp_path / "package.zip"
    result = pack(
        [
            PackSource("対象者一覧.csv", src / "a.csv", records),
            PackSource("資料/説明.txt", src / "b.txt"),
        ],
        MANIFEST,
        password,
        dest,
    )

    assert seven_zip(sevenzip, "t", f"-p{password}", str(dest)).returncode == 0
    wrong = seven_zip(sevenzip, "t", "-pWrongPassword123456789", str(dest))
    assert wrong.returncode != 0
    assert "Wrong password" in wrong.stdout + wrong.stderr

    out = tmp_path / "out"
    assert seven_zip(sevenzip, "x", f"-p{password}", f"-o{out}", str(dest)).returncode == 0
    assert (out / "対象者一覧.csv").read_bytes() == csv
    assert (out / "資料" / "説明.txt").read_bytes() == small
    assert json.loads((out / MANIFEST_NAME).read_bytes()) == json.loads(result.manifest_json)


def test_japanese_names_are_listed_as_utf8(tmp_path: Path, sevenzip: str) -> None:
    (tmp_path / "x").write_bytes(b"data")
    dest = tmp_path / "p.zip"
    pack([PackSource("介護保険料納入通知書.csv", tmp_path / "x")], MANIFEST, new_package_password(), dest)
    listing = seven_zip(sevenzip, "l", str(dest))
    assert listing.returncode == 0
    assert "介護保険料納入通知書.csv" in listing.stdout


# Both ends of each library's range (ISA-L 1-3, zlib-ng 4-9; exchange.packing.zipaes.deflate_engine) and stored.
@pytest.mark.parametrize("level", [0, 1, 3, 4, 6, 9])
def test_pyzipper_reads_every_level(tmp_path: Path, level: int) -> None:
    data = japanese_csv(tmp_path / "a.csv", 2 * 1024 * 1024 + 7, seed=level)
    (tmp_path / "empty").write_bytes(b"")
    password = new_package_password()
    result = pack(
        [PackSource("a.csv", tmp_path / "a.csv"), PackSource("empty.txt", tmp_path / "empty")],
        MANIFEST,
        password,
        tmp_path / "p.zip",
        level=level,
        workers=3,
    )
    with pyzipper.AESZipFile(result.path) as archive:
        archive.setpassword(password.encode())
        assert archive.namelist() == ["a.csv", "empty.txt", MANIFEST_NAME]
        assert archive.read("a.csv") == data
        assert archive.read("empty.txt") == b""
        info = archive.getinfo("a.csv")
        assert info.compress_type == (pyzipper.ZIP_STORED if level == 0 else pyzipper.ZIP_DEFLATED)
        assert info.flag_bits & 0x800  # UTF-8 names
    if level == 0:
        assert info.compress_size == len(data) + 28  # salt, verifier, MAC around the stored bytes
    else:
        assert info.compress_size < len(data) * 0.8


def test_result_and_manifest_describe_the_files(tmp_path: Path) -> None:
    japanese_csv(tmp_path / "a.csv", 100_000)
    data, records = whole_rows(tmp_path / "a.csv")
    seen: list[int] = []
    result = pack(
        [PackSource("対象者.csv", tmp_path / "a.csv", record_count=records)],
        MANIFEST,
        new_package_password(),
        tmp_path / "p.zip",
        progress=seen.append,
    )
    zip_bytes = (tmp_path / "p.zip").read_bytes()
    assert result.size == len(zip_bytes)
    assert result.sha256 == hashlib.sha256(zip_bytes).hexdigest()
    file_hash = hashlib.sha256(data).hexdigest()
    assert [(f.name, f.size, f.sha256, f.record_count) for f in result.files] == [
        ("対象者.csv", len(data), file_hash, records)
    ]
    assert seen[-1] == len(data)
    assert json.loads(result.manifest_json) == {
        "format": "handover-manifest/1",
        "package_id": "PKG-0001",
        "contract": {"id": "C-2026-001", "name": "生活保護 追加給付 通知作成業務"},
        "recipient": "株式会社テスト委託",
        "created_at": "2026-11-25T01:02:03Z",
        "files": [{"name": "対象者.csv", "size": len(data), "sha256": file_hash, "record_count": records}],
    }
    assert "生活保護".encode() in result.manifest_json  # readable, not \\u-escaped
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_pack_leaves_no_partial_output(tmp_path: Path) -> None:
    dest = tmp_path / "p.zip"
    dest.write_bytes(b"previous")
    (tmp_path / "ok").write_bytes(b"x")
    with pytest.raises(FileNotFoundError):
        pack(
            [PackSource("ok.txt", tmp_path / "ok"), PackSource("gone.txt", tmp_path / "missing")],
            MANIFEST,
            new_package_password(),
            dest,
        )
    assert dest.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok", "p.zip"]


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "a/../../b.csv",
        "/etc/passwd",
        "",
        "a//b.csv",
        "./a.csv",
        "a\x00b.csv",
        "a\nb.csv",
        "invoice\u202etxt.exe",
        "C:\\temp\\a.csv",
        "a\\..\\b.csv",
        'a"b.csv',
        "CON.txt",
        "com1",
        "name. ",
        "あ" * 86,  # 258 bytes in UTF-8
    ],
)
def test_unsafe_names_are_refused_in_japanese(name: str) -> None:
    with pytest.raises(UnsafeNameError) as caught:
        safe_member_name(name)
    assert str(caught.value).startswith("ファイル名「")
    assert "\x00" not in str(caught.value) and "\n" not in str(caught.value)


def test_safe_names_pass_and_are_nfc() -> None:
    assert safe_member_name("資料/対象者一覧_令和8年度.csv") == "資料/対象者一覧_令和8年度.csv"
    assert safe_member_name("あ" * 85) == "あ" * 85  # 255 bytes
    assert safe_member_name("ガイド.pdf") == "ガイド.pdf"  # decomposed カ + ゛ (as macOS writes it)
    assert safe_member_name("console.log") == "console.log"


def test_duplicate_and_reserved_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(UnsafeNameError, match="同じ名前"):
        pack(
            [PackSource("A.csv", tmp_path / "a"), PackSource("a.csv", tmp_path / "a")],
            MANIFEST,
            "pw-irrelevant-here-123",
            tmp_path / "p.zip",
        )
    with pytest.raises(UnsafeNameError, match="システム"):
        pack([PackSource("Manifest.json", tmp_path / "a")], MANIFEST, "pw-irrelevant", tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_naive_creation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Manifest("P", "C", "n", "r", datetime(2026, 1, 1))


PACK_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from exchange.packing.packer import Manifest, PackSource, pack

    src, dest, level = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    manifest = Manifest("PKG-MEM", "C-1", "契約", "乙", datetime.now(UTC))
    result = pack([PackSource("大きなファイル.csv", src)], manifest, "memory-test-password", dest, level=level)
    # VmHWM is this process's own peak; ru_maxrss would include the parent's RSS inherited at exec.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(status.split("VmHWM:")[1].split()[0])
    print(result.files[0].size, peak_kib * 1024)
    """
)


def test_memory_stays_flat_for_a_200_mb_file(tmp_path: Path) -> None:
    block = japanese_csv(tmp_path / "block", 4 * 1024 * 1024)
    src = tmp_path / "big.csv"
    with src.open("wb") as out:
        for _ in range(50):
            out.write(block)
    child = subprocess.run(
        [sys.executable, "-c", PACK_SCRIPT, str(src), str(tmp_path / "p.zip"), "6"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    size, peak = map(int, child.stdout.split())
    assert size == 200 * 1024 * 1024
    assert peak < 64 * 1024 * 1024, f"peak RSS {peak / 2**20:.1f} MiB"


def test_sparse_5_gib_file_packs_with_zip64(tmp_path: Path, sevenzip: str) -> None:
    """Real ZIP64: 5 GiB of zeros, deflated at level 1 (fast on zeros), verified end to end by 7-Zip."""
    src = tmp_path / "sparse.bin"
    subprocess.run(["truncate", "-s", "5G", str(src)], check=True)
    password = new_package_password()
    result = pack([PackSource("大容量.bin", src)], MANIFEST, password, tmp_path / "big.zip", level=1)
    assert result.files[0].size == 5 * 1024**3
    tested = seven_zip(sevenzip, "t", f"-p{password}", str(result.path))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    with pyzipper.AESZipFile(result.path) as archive:
        assert archive.getinfo("大容量.bin").file_size == 5 * 1024**3
        archive.setpassword(password.encode())
        assert json.loads(archive.read(MANIFEST_NAME))["files"][0]["size"] == 5 * 1024**3


def test_stored_archive_beyond_4_gib_uses_zip64_offsets(tmp_path: Path, sevenzip: str) -> None:
    """Stored mode, so the archive itself passes 4 GiB: ZIP64 sizes, the manifest's offset and the end record."""
    src = tmp_path / "sparse.bin"
    subprocess.run(["truncate", "-s", "4200M", str(src)], check=True)
    password = new_package_password()
    result = pack([PackSource("stored.bin", src)], MANIFEST, password, tmp_path / "big.zip", level=0)
    assert result.size > 4200 * 1024 * 1024
    tested = seven_zip(sevenzip, "t", f"-p{password}", str(result.path))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    with pyzipper.AESZipFile(result.path) as archive:
        assert archive.getinfo(MANIFEST_NAME).header_offset > 2**32
        archive.setpassword(password.encode())
        assert json.loads(archive.read(MANIFEST_NAME))["package_id"] == "PKG-0001"
