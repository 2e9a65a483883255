"""Sealed files: round trips at every chunk boundary, and every way a stored file can be tampered with fails."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange.keys.sealed_files import CHUNK_BYTES, SealedFileWriter, open_sealed, read_sealed, seal_stream_to
from exchange.keys.sealing import Keyring, MasterKey, UnsealError

AAD = b"inbound:0b6f1c"


def _payload(size: int) -> bytes:
    # Text that repeats, like a CSV of residents: a plain copy would be easy to spot in the sealed bytes.
    line = "1234567,山田太郎,東京都千代田区1-1\n".encode()
    return (line * (size // len(line) + 1))[:size]


def _seal(path: Path, master: MasterKey, data: bytes, pieces: int = 3) -> None:
    writer = SealedFileWriter(path, master, AAD)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    writer.commit()


def _open(path: Path, ring: Keyring, aad: bytes = AAD) -> bytes:
    with path.open("rb") as stream:
        return b"".join(open_sealed(stream, ring, aad))


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 17])
def test_round_trip_at_chunk_boundaries(tmp_path: Path, size: int) -> None:
    master = MasterKey(os.urandom(32))
    data = _payload(size)
    sealed = tmp_path / "upload.sealed"
    _seal(sealed, master, data)
    assert _open(sealed, Keyring(master)) == data
    stored = sealed.read_bytes()
    assert "山田太郎".encode() not in stored and b"1234567" not in stored
    assert sealed.stat().st_mode & 0o777 == 0o600


def test_wrong_aad_or_key_does_not_open(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    sealed = tmp_path / "upload.sealed"
    _seal(sealed, master, _payload(5000))
    with pytest.raises(UnsealError):
        _open(sealed, Keyring(master), b"inbound:another-row")
    with pytest.raises(UnsealError):
        _open(sealed, Keyring(MasterKey(os.urandom(32))))


def test_an_older_master_key_still_opens(tmp_path: Path) -> None:
    old = MasterKey(os.urandom(32))
    sealed = tmp_path / "upload.sealed"
    _seal(sealed, old, _payload(5000))
    new = MasterKey(os.urandom(32))
    assert _open(sealed, Keyring(new, [old])) == _payload(5000)
    # Rotation does not rewrite sealed files: the old key stays configured until such files are deleted.
    with pytest.raises(UnsealError, match="not in the keyring"):
        _open(sealed, Keyring(new))


def _chunk_offsets(stored: bytes) -> int:
    header = int.from_bytes(stored[8:12], "big")
    return 12 + header + 7


def test_truncation_reordering_and_bit_flips_fail(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    ring = Keyring(master)
    sealed = tmp_path / "upload.sealed"
    _seal(sealed, master, _payload(2 * CHUNK_BYTES + 100))
    stored = sealed.read_bytes()
    start = _chunk_offsets(stored)
    full = CHUNK_BYTES + 16
    first, second, last = (
        stored[start : start + full],
        stored[start + full : start + 2 * full],
        stored[start + 2 * full :],
    )
    tampered = {
        "last chunk dropped": stored[: start + 2 * full],
        "cut mid-chunk": stored[:-5],
        "chunks swapped": stored[:start] + second + first + last,
        "bit flipped": stored[:-1] + bytes([stored[-1] ^ 1]),
        "header flipped": stored[:20] + bytes([stored[20] ^ 1]) + stored[21:],
        "not sealed at all": "1234567,山田太郎\n".encode(),
    }
    for what, data in tampered.items():
        with pytest.raises(UnsealError):
            b"".join(open_sealed(io.BytesIO(data), ring, AAD))
            pytest.fail(f"{what}: opened")


def test_seal_stream_to_and_async_read(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    data = _payload(CHUNK_BYTES + 4321)
    sealed = tmp_path / "quarantined.sealed"
    assert seal_stream_to(sealed, io.BytesIO(data), master, AAD) == len(data)

    assert asyncio.run(_collect(read_sealed(sealed, Keyring(master), AAD))) == data


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    sealed = tmp_path / "upload.sealed"

    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("disk went away")

    with pytest.raises(OSError):
        seal_stream_to(sealed, Broken(), master, AAD)
    assert list(tmp_path.iterdir()) == []
