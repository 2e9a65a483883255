from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from exchange.passwords.generate import new_package_password
from exchange.passwords.printed_notice import PasswordNotice, render_password_notice
from tests.services import require_binary


@pytest.fixture
def notice() -> PasswordNotice:
    return PasswordNotice(
        issued_on=date(2026, 11, 25),
        issuer="新宿区 福祉部 生活福祉課",
        contractor="株式会社テスト委託",
        handler="山田 太郎",
        contract_name="生活保護 追加給付 通知作成業務委託",
        package_id="PKG-01JABCDEF",
        password=new_package_password(),
    )


def extract_text(pdf: bytes, tmp_path: Path) -> str:
    binary = require_binary("pdftotext")
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    return subprocess.run([binary, str(path), "-"], capture_output=True, check=True).stdout.decode("utf-8")


def test_notice_text_extracts_with_japanese_id_password_and_wareki(notice: PasswordNotice, tmp_path: Path) -> None:
    pdf = render_password_notice(notice)
    assert pdf.startswith(b"%PDF")
    text = extract_text(pdf, tmp_path)
    for expected in (
        "パスワード通知書",
        "令和8年11月25日",
        "株式会社テスト委託",
        "山田 太郎",
        "新宿区 福祉部 生活福祉課",
        "生活保護 追加給付 通知作成業務委託",
        "PKG-01JABCDEF",
        "7-Zip",
        "別の機会",
        "廃棄",
    ):
        assert expected in text, expected
    assert notice.password in text.split()  # byte-exact, as one word


def test_japanese_fonts_are_embedded(notice: PasswordNotice, tmp_path: Path) -> None:
    binary = require_binary("pdffonts")
    path = tmp_path / "notice.pdf"
    path.write_bytes(render_password_notice(notice))
    fonts = subprocess.run([binary, str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines() if "IPAex" in line]
    assert len(rows) == 2 and all(row[-5] == "yes" for row in rows)  # the "emb" column


def test_password_is_not_in_repr(notice: PasswordNotice) -> None:
    assert notice.password not in repr(notice)
