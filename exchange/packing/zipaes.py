"""Streaming writer for AES-256 encrypted ZIP archives (WinZip AE-2), readable by 7-Zip.

Why a custom writer: pyzipper compresses and encrypts on one core (~24 MB/s at level 6). Here the deflate
work is split pigz-style into independent 1 MiB blocks compressed on a thread pool (the deflate libraries
release the GIL); each block is primed with the previous 32 KiB as a preset dictionary, ends with a sync flush,
and the concatenation of those raw deflate streams plus a final empty block is one valid deflate stream. The
library per level is chosen by measurement (:func:`deflate_engine`: ISA-L, zlib-ng, zlib as the fallback).

Encryption follows the WinZip AE specification: PBKDF2-HMAC-SHA1 (1000 iterations, 16-byte salt) yields the
AES key, the HMAC key and a 2-byte password verifier; data is encrypted with AES-CTR whose 128-bit counter is
*little-endian* and starts at 1, so OpenSSL's big-endian CTR mode cannot be used directly: counter blocks are
built in bulk with numpy, encrypted with ECB and XORed onto the data by numpy, a slice of 1 MiB at a time. The
authentication code is HMAC-SHA1 over the ciphertext, truncated to 10 bytes. AE-2 stores a CRC of 0, so no
CRC-32 is computed.

Entries use a data descriptor (flag bit 3) so that the archive is written strictly sequentially; that keeps
the running SHA-256 of the output valid without re-reading the file.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
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
from typing import BinaryIO, Final, Protocol, cast

import numpy as np
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

Buffer = bytes | bytearray | memoryview


class _Hasher(Protocol):
    def update(self, data: Buffer, /) -> None: ...


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


_BLOCK: Final = 16
_LOW64: Final = (1 << 64) - 1
# Keystream is made one slice at a time (a slice's counter blocks, keystream and result stay a few MiB at most).
_SLICE: Final = 256 * 1024
_SLICE_BLOCKS: Final = _SLICE // _BLOCK + 1  # +1: a slice that starts inside a block touches one more
_STEPS: Final = np.arange(_SLICE_BLOCKS, dtype=np.uint64)


class WinZipAesCtr:
    """AES-CTR keystream with WinZip's little-endian 128-bit counter starting at 1.

    Everything on the hot path is native: a slice's counter blocks are written as one numpy array (low and high
    64-bit halves, little-endian, the low half wrapping into the high one), encrypted by one ECB call (OpenSSL),
    and XORed onto the data by one numpy ``bitwise_xor``; Python only steps from slice to slice.
    ``position`` starts the stream that many bytes in (the tests use it to cross the 2**64 block boundary).
    """

    def __init__(self, key: bytes, *, position: int = 0) -> None:
        # ECB over explicit counter blocks *is* CTR mode, with the counter layout WinZip requires.
        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        self._position = position
        self._counters = np.empty((_SLICE_BLOCKS, 2), dtype="<u8")
        # update_into wants room for one block more than it is given.
        self._stream = bytearray((_SLICE_BLOCKS + 1) * _BLOCK)

    def _keystream(self, first: int, count: int) -> memoryview:
        """Keystream for ``count`` blocks whose first counter value is ``first``."""
        low, high = first & _LOW64, (first >> 64) & _LOW64
        counters = self._counters[:count]
        np.add(_STEPS[:count], np.uint64(low), out=counters[:, 0])  # wraps modulo 2**64, as the low half must
        counters[:, 1] = high
        wrap = (1 << 64) - low
        if wrap < count:  # the low half passes 2**64 inside this slice: carry one into the high half from there
            counters[wrap:, 1] += np.uint64(1)
        written = self._ecb.update_into(counters.data.cast("B"), self._stream)
        return memoryview(self._stream)[:written]

    def process(self, data: Buffer) -> memoryview:
        """Encrypt (or decrypt) the next ``len(data)`` bytes of the stream."""
        plain = np.frombuffer(data, dtype=np.uint8)
        out = np.empty(len(plain), dtype=np.uint8)
        for start in range(0, len(plain), _SLICE):
            piece = plain[start : start + _SLICE]
            skip = self._position % _BLOCK
            stream = self._keystream(self._position // _BLOCK + 1, (skip + len(piece) + _BLOCK - 1) // _BLOCK)
            key = np.frombuffer(stream, dtype=np.uint8, count=len(piece), offset=skip)
            np.bitwise_xor(piece, key, out=out[start : start + len(piece)])
            self._position += len(piece)
        return out.data.cast("B")


def derive_keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """Return (AES key, HMAC key, 2-byte password verifier) for one entry."""
    material = hashlib.pbkdf2_hmac("sha1", password, salt, _PBKDF2_ITERATIONS, 2 * _KEY_LEN + 2)
    return material[:_KEY_LEN], material[_KEY_LEN : 2 * _KEY_LEN], material[2 * _KEY_LEN :]


def _aes_extra(method: int) -> bytes:
    # Header 0x9901, vendor version 2 (AE-2), vendor "AE", strength 3 (AES-256), real compression method.
    return struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", 3, method)


class _Compressor(Protocol):
    def compress(self, data: Buffer, /) -> bytes: ...

    def flush(self, mode: int, /) -> bytes: ...


class Decompressor(Protocol):
    """The part of ``zlib``'s decompression object that the proof uses (isal and zlib-ng have the same)."""

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    def decompress(self, data: Buffer, _max_length: int = 0, /) -> bytes: ...


class _Deflate(Protocol):
    """A zlib-compatible module: ``zlib`` itself, ``isal.isal_zlib`` or ``zlib_ng.zlib_ng``."""

    Z_SYNC_FLUSH: int
    error: type[Exception]

    def compressobj(self, _level: int, _method: int, _wbits: int, /, *, zdict: bytes = ...) -> _Compressor: ...

    def decompressobj(self, _wbits: int, /) -> Decompressor: ...


def _optional(name: str) -> _Deflate | None:
    try:
        return cast(_Deflate, importlib.import_module(name))
    except ImportError:
        return None


_ZLIB: Final = cast(_Deflate, zlib)
_ISAL: Final = _optional("isal.isal_zlib")
_ZLIB_NG: Final = _optional("zlib_ng.zlib_ng")


def deflate_engine(level: int) -> _Deflate:
    """The library that compresses at ``level`` (1-9), chosen by measurement on Japanese CSV in 1 MiB blocks
    (``bench/packaging.py``; output as a share of the input, MB/s on one core of the 2-core bench machine):

    * levels 1-3: ISA-L (``isal``), its own levels 1-3: about 51% / 50% / 50% at 320-440 MB/s, where zlib-ng
      gives 65% / 49% / 48% at 100-175 MB/s and zlib 50% at 74 MB/s (level 1).
    * levels 4-9: zlib-ng (``zlib-ng``), same level: 46.6% at 82 MB/s for level 6, where zlib gives 46.8% at
      32-75 MB/s. Levels above 6 gain nothing measurable (46.6% at 32 MB/s for 9).
    * libdeflate (``deflate``) is not used: it writes whole streams only (no preset dictionary, no sync flush,
      the last block final), so blocks compressed in parallel cannot be joined into one stream.

    Without those packages (both are wheels on PyPI), the standard ``zlib`` at the same level.
    """
    if level <= 3 and _ISAL is not None:
        return _ISAL
    return _ZLIB_NG or _ZLIB


# Inflating (the proof) takes the fastest library installed: ISA-L's inflate is about twice zlib's.
_INFLATE: Final = _ISAL or _ZLIB_NG or _ZLIB
INFLATE_ERROR: Final = _INFLATE.error


def inflater() -> Decompressor:
    """A raw-deflate decompressor; it raises ``INFLATE_ERROR`` on a broken stream."""
    return _INFLATE.decompressobj(-15)


def _deflate_block(chunk: bytes, zdict: bytes, level: int) -> bytes:
    engine = deflate_engine(level)
    if zdict:
        compressor = engine.compressobj(level, zlib.DEFLATED, -15, zdict=zdict)
    else:
        compressor = engine.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(chunk) + compressor.flush(engine.Z_SYNC_FLUSH)


# An empty final stored block: every block above ends byte-aligned (sync flush), whatever library wrote it.
_FINAL_BLOCK: Final = b"\x03\x00"


class Lanes:
    """Threads that each run their calls in submission order: the hashes of a stream, off the thread that reads it.

    hashlib and hmac release the GIL on large buffers, so calls on different lanes overlap with each other and with
    the caller's own work (deflate, AES, inflate). At most ``depth`` calls per lane are in flight, which keeps memory
    flat: the caller waits for the oldest call once that many are queued.
    """

    def __init__(self, *names: str, depth: int = 2) -> None:
        self._executors = tuple(ThreadPoolExecutor(1, thread_name_prefix=f"zip-{name}") for name in names)
        self._pending: deque[Future[object]] = deque()
        self._limit = depth * len(names)

    def submit(self, lane: int, call: Callable[[Buffer], object], data: Buffer) -> None:
        self._pending.append(self._executors[lane].submit(call, data))
        while len(self._pending) > self._limit:
            self._pending.popleft().result()

    def drain(self) -> None:
        """Wait until every call submitted so far has run (and raise the first error one raised)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self, *, cancel: bool = False) -> None:
        for executor in self._executors:
            executor.shutdown(cancel_futures=cancel)


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
        # Writing with the output's SHA-256, the entry's MAC (HMAC-SHA1 of the ciphertext) and the SHA-256 of the
        # plaintext each run on a thread of their own, in stream order, off the thread that reads and encrypts:
        # hashlib and hmac release the GIL on large buffers, so the three hashes overlap with each other and with
        # the next chunk's deflate and AES.
        self._lanes = Lanes("sink", "mac", "sum")
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

    def _sink_write(self, data: Buffer) -> None:
        self._sha256.update(data)
        self._fp.write(data)

    def _emit(self, data: Buffer, *updates: tuple[_Hasher, Buffer]) -> None:
        """Queue ``data`` for writing; ``updates`` (at most two) feed other hashes, each in stream order."""
        self._offset += len(data)
        self._lanes.submit(0, self._sink_write, data)
        for lane, (hasher, payload) in enumerate(updates, start=1):
            self._lanes.submit(lane, hasher.update, payload)

    def _drain(self) -> None:
        self._lanes.drain()

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

        def emit_cipher(block: Buffer, plain: Buffer) -> None:
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
                zdict = previous[-_WINDOW:]
                in_flight.append((self._pool.submit(_deflate_block, chunk, zdict, level), chunk))
                previous = chunk
                while len(in_flight) > self._workers:
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
            self._lanes.close()

    def abort(self) -> None:
        self._closed = True
        self._pool.shutdown(cancel_futures=True)
        self._lanes.close(cancel=True)

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
