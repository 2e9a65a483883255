"""A DVD's life through the command line (C-21): staged, sealed with a media id, handed over, returned — and
the media register report shows it."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from ledger.wareki import JST
from policies.dummy import write_dummy_csv
from tests.e2e.demo_hub import DemoHub
from tests.factories import DEMO_FILES
from tests.services import require_binary

ROUTE = """
[[routes]]
code = "s2-dvd"
name = "介護保険料 納入通知書（DVD）"
program = "kaigo-hokenryo"
watch_dir = "inbox/介護保険料通知/DVD"
targets = [{ contract = "s2-print", connector = "dvd", password_channels = ["notice"] }]
"""


def test_dvd_is_sealed_handed_over_flagged_and_returned(tmp_path: Path) -> None:
    pdftotext = require_binary("pdftotext")
    hub = DemoHub(tmp_path)
    assert hub.cli("init").returncode == 0
    (tmp_path / "dvd.toml").write_text(ROUTE, encoding="utf-8")
    imported = hub.cli("admin", "import", *map(str, DEMO_FILES), str(tmp_path / "dvd.toml"))
    assert imported.returncode == 0, imported.stderr
    data = tmp_path / "第3期.csv"
    write_dummy_csv("kaigo-hokenryo", 20, data, seed=3)
    packed = hub.cli("package", str(data), "--route", "s2-dvd")
    assert packed.returncode == 0, packed.stderr

    # The preparer is a person code of the owning section's staff, never free text (C-05).
    typed = hub.cli("media", "finalize", "s2-print", "--by", "区役 次郎")
    assert typed.returncode == 2 and "人物コード" in typed.stderr, typed.stderr
    sealed = hub.cli("media", "finalize", "s2-print", "--by", "staff-kaigo")
    assert sealed.returncode == 0, sealed.stderr
    media_id = re.search(r"medium (DVD-\d{4}-\w+)", sealed.stdout)
    assert media_id is not None, sealed.stdout
    medium = media_id.group(1)
    images = list((tmp_path / "var" / "media" / "images").glob(f"{medium}*"))
    assert {p.suffix for p in images} == {".iso", ".pdf"}

    due = (datetime.now(JST).date() + timedelta(days=30)).isoformat()
    refused = {
        "free text": ("staff-kaigo", "電送 五郎", "人物コード"),
        "not designated on s2-print": ("staff-kaigo", "a-handler", "指定されていません"),
        "staff of another section": ("staff-welfare", "asp-handler", "介護保険課の職員ではありません"),
        "a contractor as the ward's side": ("asp-handler", "asp-handler", "職員ではありません"),
    }
    for why, (by, to, message) in refused.items():
        attempt = hub.cli("media", "handover", medium, "--by", by, "--to", to, "--due", due)
        assert attempt.returncode == 2 and message in attempt.stderr, (why, attempt.stderr)
    past = hub.cli("media", "handover", medium, "--by", "staff-kaigo", "--to", "asp-handler", "--due", "2026-01-31")
    assert past.returncode == 2 and "引渡日より前" in past.stderr
    handed = hub.cli("media", "handover", medium, "--by", "staff-kaigo", "--to", "asp-handler", "--due", due)
    assert handed.returncode == 0, handed.stderr
    typed_back = hub.cli("media", "return", medium, "--by", "電送 五郎", "--received-by", "staff-kaigo")
    assert typed_back.returncode == 2 and "人物コード" in typed_back.stderr
    not_staff = hub.cli("media", "return", medium, "--by", "asp-handler", "--received-by", "a-manager")
    assert not_staff.returncode == 2 and "職員ではありません" in not_staff.stderr
    back = hub.cli("media", "return", medium, "--by", "asp-handler", "--received-by", "staff-kaigo")
    assert back.returncode == 0, back.stderr
    assert "no overdue media" in hub.cli("media", "overdue").stdout  # overdue ones: tests/ledger/test_media_register
    assert hub.cli("media", "return", medium, "--by", "asp-handler", "--received-by", "staff-kaigo").returncode == 2

    report = tmp_path / "media.pdf"
    made = hub.cli("report", "media", "--contract", "s2-print", "--fy", "2026", "--out", str(report))
    assert made.returncode == 0, made.stderr
    text = subprocess.run([pdftotext, str(report), "-"], capture_output=True, text=True, check=True).stdout
    assert medium in text and "電送 五郎" in text and "asp-handler" in text  # the PDF wraps name and code
    register = tmp_path / "register.csv"
    made = hub.cli("report", "handover", "--contract", "s2-print", "--out", str(register))
    assert made.returncode == 0, made.stderr
    lines = register.read_text(encoding="utf-8-sig").splitlines()
    handed_line = next(line for line in lines if ",提供," in line and medium in line)
    assert "区役 次郎（staff-kaigo）" in handed_line and "電送 五郎（asp-handler）" in handed_line
