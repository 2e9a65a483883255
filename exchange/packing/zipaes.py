"""Streaming writer for AES-256 encrypted ZIP archives (WinZip AE-2), readable by 7-Zip.

Why a custom writer: pyzipper compresses and encrypts on one core (~24 MB/s at level 6). Here the deflate
work is split pigz-style into independent 1 MiB blocks compressed on a thread pool (zlib releases the GIL);
each block is primed with the previous 32 KiB as a preset dictionary, ends with a sync flush, and the
concatenation of those raw deflate streams plus a final empty block is one valid deflate stream.

Encryption follows the WinZip AE specification: PBKDF2-HMAC-SHA1 (1000 iterations, 16-byte salt) yields the
AES key, the HMAC key and a 2-byte password verifier; data is encrypted with AES-CTR whose 128-bit counter is
*little-endian* and starts at 1, so OpenSSL's big-endian CTR mode cannot be used directly: counter blocks are
encrypted with ECB and XORed onto the data. The authentication code is HMAC-SHA1 over the ciphertext,
truncated to 10 bytes. AE-2 stores a CRC of 0, so no CRC-32 is computed.

Entries use a data descriptor (flag bit 3) so that the archive is written strictly sequentially; that keeps
the running SHA-256 of the output valid without re-reading the file.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import secrets
import struct
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import BinaryIO, Final, Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ledger.wareki import JST

CHUNK_SIZE: Final = 1 << 20
_WINDOW: Final = 32 * 1024
_MAX32: Final = 0xFFFFFFFF
_MAX16: Final = 0xFFFF
_SALT_LEN: Final = 16  # AES-256
_KEY_LEN: Final = 32
_PBKDF2_ITERATIONS: Final = 1000
_MAC_LEN: Final = 10
_AES_OVERHEAD: Final = _SALT_LEN + 2 + _MAC_LEN
_METHOD_AES: Final = 99
_METHOD_DEFLATE: Final = 8
_METHOD_STORED: Final = 0
_VERSION_NEEDED: Final = 51  # AES encryption per the WinZip spec (also covers ZIP64, 4.5)
_VERSION_MADE_BY: Final = 63  # host 0 (MS-DOS/Windows: the recipients), spec 6.3
_FLAGS: Final = 0x0001 | 0x0008 | 0x0800  # encrypted, data descriptor, UTF-8 names

# Keystream is generated in 64 KiB slices: XOR on Python ints is fastest when operands stay in cache.
_XOR_SLICE: Final = 64 * 1024


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class ZipLimitError(ValueError):
    """An entry outgrew the 32-bit ZIP fields that were chosen when its header was written."""


@dataclass(frozen=True)
class EntryInfo:
    name: str
    size: int
    compressed_size: int
    sha256: str


@dataclass
class _Entry:
    name: bytes
    method: int
    dos_time: int
    dos_date: int
    offset: int
    size: int = 0
    compressed_size: int = 0


def needs_zip64(size_hint: int | None) -> bool:
    """True when an entry of ``size_hint`` bytes (None: unknown) may not fit 32-bit size fields.

    Deflate can expand incompressible input slightly, so a margin is kept below 4 GiB.
    """
    return size_hint is None or size_hint + (size_hint >> 6) + CHUNK_SIZE + _AES_OVERHEAD > _MAX32


def _dos_datetime(moment: datetime) -> tuple[int, int]:
    # DOS time has no zone; recipients read it as Japanese local time.
    local = moment.astimezone(JST)
    if local.year < 1980:
        return 0, (1 << 5) | 1
    dos_time = (local.hour << 11) | (local.minute << 5) | (local.second // 2)
    dos_date = ((local.year - 1980) << 9) | (local.month << 5) | local.day
    return dos_time, dos_date


def _counter_template() -> bytes:
    # Counter blocks for the low 16 bits 0..65535; higher counter bytes are patched in per 64 Ki-block window.
    return b"".join(i.to_bytes(2, "little") + bytes(14) for i in range(1 << 16))


_TEMPLATE: Final = _counter_template()


class WinZipAesCtr:
    """AES-CTR keystream with WinZip's little-endian 128-bit counter starting at 1."""

    def __init__(self, key: bytes) -> None:
        # ECB over explicit counter blocks *is* CTR mode, with the counter layout WinZip requires.
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        self._position = 0

    def _counter_blocks(self, first: int, count: int) -> bytes:
        parts: list[bytes] = []
        while count:
            window, low = divmod(first, 1 << 16)
            n = min(count, (1 << 16) - low)
            block = bytearray(_TEMPLATE[low * 16 : (low + n) * 16])
            for index, byte in enumerate(window.to_bytes(14, "little")):
                if byte:
                    block[2 + index :: 16] = bytes((byte,)) * n
            parts.append(bytes(block))
            first += n
            count -= n
        return b"".join(parts)

    def process(self, data: bytes) -> bytes:
        """Encrypt (or decrypt) the next ``len(data)`` bytes of the stream."""
        out: list[bytes] = []
        for start in range(0, len(data), _XOR_SLICE):
            piece = data[start : start + _XOR_SLICE]
            skip = self._position % 16
            nblocks = (skip + len(piece) + 15) // 16
            stream = self._ecb.update(self._counter_blocks(self._position // 16 + 1, nblocks))
            stream = stream[skip : skip + len(piece)]
            mixed = int.from_bytes(piece, "little") ^ int.from_bytes(stream, "little")
            out.append(mixed.to_bytes(len(piece), "little"))
            self._position += len(piece)
        return b"".join(out)


def derive_keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """Return (AES key, HMAC key, 2-byte password verifier) for one entry."""
    material = hashlib.pbkdf2_hmac("sha1", password, salt, _PBKDF2_ITERATIONS, 2 * _KEY_LEN + 2)
    return material[:_KEY_LEN], material[_KEY_LEN : 2 * _KEY_LEN], material[2 * _KEY_LEN :]


def _aes_extra(method: int) -> bytes:
    # Header 0x9901, vendor version 2 (AE-2), vendor "AE", strength 3 (AES-256), real compression method.
    return struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, method)


def _deflate_block(chunk: bytes, zdict: bytes | None, level: int) -> bytes:
    if zdict:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=zdict)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)


_FINAL_BLOCK: Final = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


class AesZipWriter:
    """Write an AES-256 ZIP strictly sequentially to ``fp``; keeps the SHA-256 of everything written.

    Memory is bounded by ``CHUNK_SIZE`` times the number of blocks in flight (a few per worker).
    """

    def __init__(self, fp: BinaryIO, password: str, *, workers: int | None = None) -> None:
        if not password:
            raise ValueError("password must not be empty")
        self._fp = fp
        self._password = password.encode("utf-8")
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="zip-deflate")
        # One sink thread keeps writes, output hashing and the entry MAC in stream order off the main thread.
        self._sink = ThreadPoolExecutor(1, thread_name_prefix="zip-sink")
        self._pending: deque[Future[None]] = deque()
        self._entries: list[_Entry] = []
        self._offset = 0
        self._sha256 = hashlib.sha256()
        self._closed = False

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def size(self) -> int:
        return self._offset

    def _sink_write(self, data: bytes, updates: tuple[tuple[_Hasher, bytes], ...]) -> None:
        for hasher, payload in updates:
            hasher.update(payload)
        self._sha256.update(data)
        self._fp.write(data)

    def _emit(self, data: bytes, *updates: tuple[_Hasher, bytes]) -> None:
        """Queue ``data`` for writing; ``updates`` feed other hashes in the same stream order."""
        self._offset += len(data)
        self._pending.append(self._sink.submit(self._sink_write, data, updates))
        while len(self._pending) > 4:
            self._pending.popleft().result()

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def write_stream(
        self,
        name: str,
        src: BinaryIO,
        *,
        size_hint: int | None,
        level: int,
        modified: datetime,
        progress: Callable[[int], None] | None = None,
    ) -> EntryInfo:
        """Add one entry read from ``src`` until EOF. ``level`` 0 stores, 1-9 deflates.

        ``name`` is written as given: callers check it first (``exchange.packing.packer.safe_member_name``).
        ``size_hint`` (None: unknown) decides up front whether the entry uses ZIP64 records.
        """
        if self._closed:
            raise ValueError("archive already closed")
        if not 0 <= level <= 9:
            raise ValueError(f"compression level must be 0-9, got {level}")
        zip64 = needs_zip64(size_hint)
        method = _METHOD_STORED if level == 0 else _METHOD_DEFLATE
        encoded = name.encode("utf-8")
        dos_time, dos_date = _dos_datetime(modified)
        entry = _Entry(encoded, method, dos_time, dos_date, self._offset)
        extra = (struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b"") + _aes_extra(method)
        sizes = _MAX32 if zip64 else 0
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _VERSION_NEEDED,
            _FLAGS,
            _METHOD_AES,
            dos_time,
            dos_date,
            0,
            sizes,
            sizes,
            len(encoded),
            len(extra),
        )
        self._emit(header + encoded + extra)

        salt = secrets.token_bytes(_SALT_LEN)
        aes_key, mac_key, verifier = derive_keys(self._password, salt)
        self._emit(salt + verifier)
        ctr = WinZipAesCtr(aes_key)
        mac = hmac.new(mac_key, digestmod="sha1")
        plain_hash = hashlib.sha256()
        size = 0
        compressed = 0

        def emit_cipher(block: bytes, plain: bytes) -> None:
            nonlocal compressed
            compressed += len(block)
            cipher = ctr.process(block)
            self._emit(cipher, (mac, cipher), (plain_hash, plain))

        in_flight: deque[tuple[Future[bytes], bytes]] = deque()
        previous = b""
        while chunk := src.read(CHUNK_SIZE):
            size += len(chunk)
            if level == 0:
                emit_cipher(chunk, chunk)
            else:
                zdict = previous[-_WINDOW:] or None
                in_flight.append((self._pool.submit(_deflate_block, chunk, zdict, level), chunk))
                previous = chunk
                while len(in_flight) > 2 * self._workers:
                    future, plain = in_flight.popleft()
                    emit_cipher(future.result(), plain)
            if progress is not None:
                progress(size)
        while in_flight:
            future, plain = in_flight.popleft()
            emit_cipher(future.result(), plain)
        if level != 0:
            emit_cipher(_FINAL_BLOCK, b"")
        self._drain()
        self._emit(mac.digest()[:_MAC_LEN])

        entry.size = size
        entry.compressed_size = compressed + _AES_OVERHEAD
        if not zip64 and max(entry.size, entry.compressed_size) > _MAX32:
            raise ZipLimitError(f"{name}: entry exceeds 4 GiB but was started without ZIP64")
        layout = "<IIQQ" if zip64 else "<IIII"
        self._emit(struct.pack(layout, 0x08074B50, 0, entry.compressed_size, entry.size))
        self._drain()
        self._entries.append(entry)
        return EntryInfo(name, size, entry.compressed_size, plain_hash.hexdigest())

    def write_bytes(self, name: str, data: bytes, *, level: int, modified: datetime) -> EntryInfo:
        return self.write_stream(name, io.BytesIO(data), size_hint=len(data), level=level, modified=modified)

    def close(self) -> None:
        """Write the central directory and stop the worker threads; does not close ``fp``."""
        if self._closed:
            return
        self._closed = True
        try:
            self._write_central_directory()
            self._drain()
        finally:
            self._pool.shutdown()
            self._sink.shutdown()

    def abort(self) -> None:
        self._closed = True
        self._pool.shutdown(cancel_futures=True)
        self._sink.shutdown(cancel_futures=True)

    def _write_central_directory(self) -> None:
        start = self._offset
        records: list[bytes] = []
        for entry in self._entries:
            wide: list[int] = []
            usize, csize, offset = entry.size, entry.compressed_size, entry.offset
            if usize >= _MAX32:
                wide.append(usize)
                usize = _MAX32
            if csize >= _MAX32:
                wide.append(csize)
                csize = _MAX32
            if offset >= _MAX32:
                wide.append(offset)
                offset = _MAX32
            extra = b""
            if wide:
                extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide)
            extra += _aes_extra(entry.method)
            fixed = struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _VERSION_MADE_BY,
                _VERSION_NEEDED,
                _FLAGS,
                _METHOD_AES,
                entry.dos_time,
                entry.dos_date,
                0,
                csize,
                usize,
                len(entry.name),
                len(extra),
                0,
                0,
                0,
                0,
                offset,
            )
            records.append(fixed + entry.name + extra)
        directory = b"".join(records)
        self._emit(directory)
        count, size = len(self._entries), len(directory)
        tail = b""
        if count >= _MAX16 or size >= _MAX32 or start >= _MAX32:
            eocd64_offset = self._offset
            tail += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
            tail += struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
        tail += struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            min(count, _MAX16),
            min(count, _MAX16),
            min(size, _MAX32),
            min(start, _MAX32),
            0,
        )
        self._emit(tail)

    def __enter__(self) -> AesZipWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
