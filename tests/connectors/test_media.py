"""DVD media: only AES-256 ZIPs go in, the ISO reads back with other tools, the label carries no password."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pycdlib
import pytest

from connectors.base import ConnectorError
from connectors.media import MediaConnector, MediumDescription, check_aes_zip, new_media_id
from tests.factories import PACKAGE_PASSWORD, TOKYO, PackageFile, package_file
from tests.services import require_binary

FOLDER = "委託先A_生活保護追加給付_第1便"
# Read aloud and typed from the label: unambiguous characters only, within a Joliet volume id's 16 characters.
MEDIA_ID_PATTERN = re.compile(r"DVD-\d{4}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}")
CONTRACT = "生活保護追加給付 通知書作成等業務委託"
PREPARED = date(2026, 11, 25)


async def _sealed(media_connector: MediaConnector, packages: list[PackageFile]) -> MediumDescription:
    for item in packages:
        await media_connector.put(FOLDER, item.path.name, item.path, {"note": "metadata-must-not-print"})
    return await media_connector.finalize_medium(FOLDER, contract_name=CONTRACT, prepared_on=PREPARED)


@pytest.fixture
def packages(tmp_path: Path) -> list[PackageFile]:
    return [
        package_file(tmp_path / "通知書データ_委託先A.zip", "氏名,住所\n区民 花子,新宿区\n".encode()),
        package_file(tmp_path / "flyer.zip", b"x" * 5000),
    ]


async def test_finalize_builds_image_that_reads_back(
    media_connector: MediaConnector, packages: list[PackageFile]
) -> None:
    medium = await _sealed(media_connector, packages)
    assert MEDIA_ID_PATTERN.fullmatch(medium.media_id) and medium.media_id.startswith("DVD-2026-")
    assert medium.image_path == media_connector.image_root / f"{medium.media_id}.iso"
    image_bytes = medium.image_path.read_bytes()
    assert (medium.image_size, medium.image_sha256) == (len(image_bytes), hashlib.sha256(image_bytes).hexdigest())
    assert {(f.name, f.size, f.sha256) for f in medium.files} == {(p.path.name, p.size, p.sha256) for p in packages}
    assert not (media_connector.staging_root / FOLDER).exists(), "staging is cleared once sealed"

    iso = pycdlib.PyCdlib()
    iso.open(str(medium.image_path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == medium.media_id
        assert iso.has_joliet() and iso.has_rock_ridge() and iso.has_udf()
        with iso.open_file_from_iso(udf_path=f"/{packages[0].path.name}") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == packages[0].sha256
    finally:
        iso.close()


async def test_image_lists_and_extracts_with_7zip(
    media_connector: MediaConnector, packages: list[PackageFile], tmp_path: Path
) -> None:
    seven = require_binary("7zz")
    medium = await _sealed(media_connector, packages)
    listing = subprocess.run([seven, "l", "-slt", str(medium.image_path)], capture_output=True, check=True)
    paths = {line[7:] for line in listing.stdout.decode().splitlines() if line.startswith("Path = ")}
    assert {p.path.name for p in packages} <= paths
    out = tmp_path / "extracted"
    subprocess.run([seven, "x", f"-o{out}", str(medium.image_path)], capture_output=True, check=True)
    extracted = out / packages[0].path.name
    assert hashlib.sha256(extracted.read_bytes()).hexdigest() == packages[0].sha256
    tested = subprocess.run(
        [seven, "t", f"-p{PACKAGE_PASSWORD.decode()}", str(extracted)], capture_output=True, check=False
    )
    assert tested.returncode == 0, tested.stdout.decode()


def _plain_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "氏名\n区民 太郎\n")
    return path


def _zipcrypto(path: Path) -> Path:
    seven = require_binary("7zz")
    source = path.with_suffix(".csv")
    source.write_text("氏名\n区民 太郎\n")
    subprocess.run(
        [seven, "a", "-tzip", "-mem=ZipCrypto", "-ppassword", str(path), str(source)], capture_output=True, check=True
    )
    return path


def _csv(path: Path) -> Path:
    path.write_text("氏名\n区民 太郎\n")
    return path


def _aes128(path: Path) -> Path:
    return package_file(path, b"data", nbits=128).path


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        (_plain_zip, "AES-256 で暗号化されていません"),
        (_zipcrypto, "AES-256 で暗号化されていません"),
        (_aes128, "AES-256 で暗号化されていません"),
        (_csv, "ZIP ファイルではありません"),
    ],
    ids=["plain-zip", "zipcrypto", "aes-128", "not-a-zip"],
)
async def test_unencrypted_files_are_refused(
    media_connector: MediaConnector, tmp_path: Path, maker: Callable[[Path], Path], reason: str
) -> None:
    path = maker(tmp_path / "bad.zip")
    with pytest.raises(ConnectorError) as caught:
        await media_connector.put(FOLDER, "bad.zip", path, {})
    assert not caught.value.retryable
    assert reason in caught.value.reason_ja
    assert not (media_connector.staging_root / FOLDER).exists()


def test_aes_check_reads_local_headers(tmp_path: Path) -> None:
    """A central directory claiming AES is not enough: the local header an extractor reads must agree."""
    package = package_file(tmp_path / "p.zip", b"data")
    check_aes_zip(package.path)
    data = bytearray(package.path.read_bytes())
    assert data[:4] == b"PK\x03\x04"
    data[6] &= 0xFE  # clear the local header's "encrypted" flag only
    forged = tmp_path / "forged.zip"
    forged.write_bytes(bytes(data))
    with pytest.raises(ConnectorError, match="暗号化されていません"):
        check_aes_zip(forged)


async def test_label_has_japanese_text_and_no_password(
    media_connector: MediaConnector, packages: list[PackageFile]
) -> None:
    pdftotext = require_binary("pdftotext")
    medium = await _sealed(media_connector, packages)
    raw = medium.label_path.read_bytes()
    text = subprocess.run([pdftotext, "-enc", "UTF-8", str(medium.label_path), "-"], capture_output=True, check=True)
    content = text.stdout.decode()
    for expected in (medium.media_id, CONTRACT, "令和8年11月25日", "通知書データ_委託先A.zip", packages[0].sha256):
        assert expected in content, expected
    for secret in (PACKAGE_PASSWORD.decode(), "metadata-must-not-print"):
        assert secret not in content
        assert secret.encode() not in raw


async def test_nothing_staged_and_capacity_are_refused(tmp_path: Path, packages: list[PackageFile]) -> None:
    staging, images = tmp_path / "s", tmp_path / "i"
    staging.mkdir()
    images.mkdir()
    small = MediaConnector("m", TOKYO, staging_root=staging, image_root=images, capacity=packages[1].size + 10)
    with pytest.raises(ConnectorError, match="パッケージがありません"):
        await small.finalize_medium(FOLDER, contract_name=CONTRACT)
    await small.put(FOLDER, packages[1].path.name, packages[1].path, {})
    with pytest.raises(ConnectorError, match="容量"):
        await small.put(FOLDER, packages[0].path.name, packages[0].path, {})
    with pytest.raises(ConnectorError, match="容量"):
        await small.finalize_medium(FOLDER, contract_name=CONTRACT)
    assert list(images.iterdir()) == []


def test_media_ids_are_random_and_well_formed() -> None:
    ids = {new_media_id(2026) for _ in range(200)}
    assert len(ids) == 200
    assert all(MEDIA_ID_PATTERN.fullmatch(i) and len(i) <= 16 for i in ids)
