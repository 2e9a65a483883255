"""WinZip AES primitives checked against straightforward reference computations."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from exchange.packing.zipaes import WinZipAesCtr, derive_keys, needs_zip64


def reference_keystream(key: bytes, first_block: int, nblocks: int) -> bytes:
    """Block i of the stream is AES(little-endian 128-bit i + 1), computed one block at a time."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    blocks = range(first_block, first_block + nblocks)
    return b"".join(ecb.update(((i + 1) % 2**128).to_bytes(16, "little")) for i in blocks)


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


def reference_process(key: bytes, position: int, data: bytes) -> bytes:
    """``data`` XORed with the stream from byte ``position`` on, one block at a time."""
    first, skip = divmod(position, 16)
    stream = reference_keystream(key, first, (skip + len(data) + 15) // 16)[skip : skip + len(data)]
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


@pytest.mark.parametrize(
    ("block", "skip", "pieces"),
    [
        (0, 0, [3 << 20]),  # several 1 MiB slices in one call
        (65_535, 3, [40, 1 << 20, 17]),
        (2**24 - 3, 0, [100]),
        (2**40 + 7, 9, [1000, 5]),
        # The low 64 bits of the counter wrap inside a slice, at a slice's first block, and in its last one.
        (2**64 - 1 - 10, 5, [1 << 20, 333]),
        (2**64 - 2, 0, [32, 64]),
        (2**64 - 1 - 65_536, 7, [(1 << 20) + 9]),
        (3 * 2**64 - 5, 0, [160]),  # the high half already non-zero when the low half wraps again
        (2**128 - 1 - 4, 0, [16 * 8]),  # the whole 128-bit counter wraps to zero, as a 128-bit register does
    ],
)
def test_ctr_matches_reference_at_large_counters(block: int, skip: int, pieces: list[int]) -> None:
    key = os.urandom(32)
    position = block * 16 + skip
    data = os.urandom(sum(pieces))
    ctr = WinZipAesCtr(key, position=position)
    out = b"".join(bytes(ctr.process(data[sum(pieces[:i]) : sum(pieces[: i + 1])])) for i in range(len(pieces)))
    expected = reference_process(key, position, data)
    assert out == expected


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
