"""WinZip AES primitives checked against straightforward reference computations."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from exchange.packing.zipaes import WinZipAesCtr, derive_keys, needs_zip64


def reference_keystream(key: bytes, first_block: int, nblocks: int) -> bytes:
    """Block i of the stream is AES(little-endian 128-bit i + 1), computed one block at a time."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return b"".join(ecb.update((i + 1).to_bytes(16, "little")) for i in range(first_block, first_block + nblocks))


@pytest.mark.parametrize("pieces", [[1], [5, 11, 16, 33], [70_000, 1, 65_535]])
def test_ctr_matches_reference_across_arbitrary_chunking(pieces: list[int]) -> None:
    key = os.urandom(32)
    total = sum(pieces)
    data = os.urandom(total)
    ctr = WinZipAesCtr(key)
    out = b""
    start = 0
    for size in pieces:
        out += ctr.process(data[start : start + size])
        start += size
    stream = reference_keystream(key, 0, (total + 15) // 16)[:total]
    assert out == bytes(a ^ b for a, b in zip(data, stream, strict=True))


def test_ctr_crosses_a_65536_block_window() -> None:
    key = os.urandom(32)
    ctr = WinZipAesCtr(key)
    ctr.process(bytes(65_530 * 16))
    assert ctr.process(bytes(12 * 16)) == reference_keystream(key, 65_530, 12)


@pytest.mark.parametrize("first", [1, 65_535, 65_536, 2**24 - 3, 2**40 + 7])
def test_counter_blocks_for_large_counters(first: int) -> None:
    blocks = WinZipAesCtr(os.urandom(32))._counter_blocks(first, 5)
    assert blocks == b"".join((first + i).to_bytes(16, "little") for i in range(5))


def test_key_derivation_lengths_and_salt_dependence() -> None:
    aes, mac, verifier = derive_keys(b"password", b"s" * 16)
    assert (len(aes), len(mac), len(verifier)) == (32, 32, 2)
    assert derive_keys(b"password", b"t" * 16)[0] != aes


@pytest.mark.parametrize(
    ("size", "expected"),
    [(None, True), (0, False), (4 * 1024**3 - 100 * 1024**2, False), (4 * 1024**3 - 1, True), (5 * 1024**3, True)],
)
def test_zip64_decision(size: int | None, expected: bool) -> None:
    assert needs_zip64(size) is expected
