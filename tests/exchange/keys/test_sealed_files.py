"""Sealed files in the blob store: round trips at every chunk boundary, and every way a stored blob can be tampered
with fails."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange.blobs.local import LocalBlobStore
from exchange.keys.sealed_files import CHUNK_BYTES, open_sealed_blob, seal_into
from exchange.keys.sealing import Keyring, MasterKey, UnsealError

AAD = b"inbound:0b6f1c"
KEY = "uploads/0b6f1c"


def _payload(size: int) -> bytes:
    # Text that repeats, like a CSV of residents: a plain copy would be easy to spot in the sealed bytes.
    line = "1234567,山田太郎,東京都千代田区1-1\n".encode()
    return (line * (size // len(line) + 1))[:size]


async def _pieces(data: bytes, pieces: int = 3) -> AsyncIterator[bytes]:
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        yield data[start : start + step]


async def _store(tmp_path: Path) -> LocalBlobStore:
    return await asyncio.to_thread(LocalBlobStore, tmp_path / "blobs")


async def _open(store: LocalBlobStore, ring: Keyring, aad: bytes = AAD, key: str = KEY) -> bytes:
    return b"".join([chunk async for chunk in open_sealed_blob(store, key, ring, aad)])


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 17])
async def test_round_trip_at_chunk_boundaries(tmp_path: Path, size: int) -> None:
    master = MasterKey(os.urandom(32))
    store = await _store(tmp_path)
    data = _payload(size)
    info = await seal_into(store, KEY, _pieces(data), master, AAD)
    assert await _open(store, Keyring(master)) == data
    stored = await asyncio.to_thread(store.path_of(KEY).read_bytes)
    assert info.size == len(stored)
    assert "山田太郎".encode() not in stored and b"1234567" not in stored


async def test_wrong_aad_or_key_does_not_open(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    store = await _store(tmp_path)
    await seal_into(store, KEY, _pieces(_payload(5000)), master, AAD)
    with pytest.raises(UnsealError):
        await _open(store, Keyring(master), b"inbound:another-row")
    with pytest.raises(UnsealError):
        await _open(store, Keyring(MasterKey(os.urandom(32))))


async def test_an_older_master_key_still_opens(tmp_path: Path) -> None:
    old = MasterKey(os.urandom(32))
    store = await _store(tmp_path)
    await seal_into(store, KEY, _pieces(_payload(5000)), old, AAD)
    new = MasterKey(os.urandom(32))
    assert await _open(store, Keyring(new, [old])) == _payload(5000)
    # Rotation does not rewrite sealed files: the old key stays configured until such files are deleted.
    with pytest.raises(UnsealError, match="not in the keyring"):
        await _open(store, Keyring(new))


def _chunk_offsets(stored: bytes) -> int:
    header = int.from_bytes(stored[8:12], "big")
    return 12 + header + 7


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_truncation_reordering_and_bit_flips_fail(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    ring = Keyring(master)
    store = await _store(tmp_path)
    await seal_into(store, KEY, _pieces(_payload(2 * CHUNK_BYTES + 100)), master, AAD)
    stored = await asyncio.to_thread(store.path_of(KEY).read_bytes)
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
        await store.put("uploads/tampered", _single(data))
        with pytest.raises(UnsealError):
            await _open(store, ring, key="uploads/tampered")
            pytest.fail(f"{what}: opened")


async def test_a_failed_source_leaves_no_blob(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    store = await _store(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"first part"
        raise OSError("disk went away")

    with pytest.raises(OSError):
        await seal_into(store, KEY, broken(), master, AAD)
    assert await store.size(KEY) is None
    assert [key async for key in store.keys()] == []
