"""The package proves itself: read the written ZIP back and compare it with what the register will say.

A package leaves the hub only if reading it back, as a recipient would, gives exactly what the hub records:
every local header agrees with the central directory, the entries tile the file with nothing between or
after them, each entry's authentication code (HMAC-SHA1) is right, and each member decrypts, inflates and
hashes to the recorded size and SHA-256; a tabular member is counted as the rest of the hub counts records
(``policies.tabular``), and the whole file hashes to the recorded SHA-256. Any difference is a
:class:`PackageProofError`: an ``OSError``, so the attempt fails the way an I/O failure does (the intake
pipeline retries it from scratch) and the package is never delivered.

Cost: one more sequential read of the ZIP, one decrypt and one inflate, with the packer's own primitives
(AES via ``cryptography`` and numpy, ``hashlib``, the fastest inflate installed); a CSV member is also parsed
to count it. Memory stays flat: everything is read in 1 MiB chunks and inflated with a bounded output. The file
is read with ``pread`` on the caller's descriptor, so the packer proves its temporary file before it becomes the
package.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import hmac
import io
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from exchange.packing.zipaes import INFLATE_ERROR, Buffer, Lanes, WinZipAesCtr, derive_keys, inflater
from policies.errors import PolicyRefusal

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_LOCAL: Final = struct.Struct("<IHHHHHIIIHH")
_CENTRAL: Final = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD: Final = struct.Struct("<IHHHHIIH")
_EOCD64: Final = struct.Struct("<IQHHIIQQQQ")
_LOCATOR: Final = struct.Struct("<IIQI")
_AES_EXTRA: Final = struct.Struct("<HHH2sBH")
_MAX32: Final = 0xFFFFFFFF
_MAX16: Final = 0xFFFF
_SALT_LEN: Final = 16
_MAC_LEN: Final = 10
_METHOD_AES: Final = 99
_METHODS: Final = frozenset({0, 8})
# The proof reads, decrypts and inflates in pieces smaller than the writer's 1 MiB blocks: it runs after the writer
# (whose freed buffers the allocator keeps) with the table reader loaded on top, and the package's peak memory is
# here; a quarter of a MiB still keeps Python's per-piece work far below the hashing's.
CHUNK_SIZE: Final = 256 * 1024
# A central directory of a handful of members is a few KiB; anything this large is not ours.
_MAX_DIRECTORY: Final = 16 << 20


class PackageProofError(OSError):
    """The written package does not read back as recorded; ``reason`` (Japanese) says what differs.

    An ``OSError`` on purpose: callers treat it as a failed attempt (retry), never as a refusal of the file.
    """

    def __init__(self, reason: str) -> None:
        message = f"作成したパッケージを読み直した結果が元のデータと一致しません（{reason}）"
        super().__init__(errno.EIO, message)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class Expected:
    """One member as the register will describe it; ``records`` None: not counted (not a table)."""

    name: str
    size: int
    sha256: str
    records: int | None


@dataclass(frozen=True)
class _Entry:
    name: str
    flags: int
    dos_time: int
    dos_date: int
    method: int
    compressed_size: int
    size: int
    offset: int


class _Reader:
    """Sequential reads of the file through ``pread``, hashing every byte once, in order.

    Rewinding (a CSV reader going back to a member's start) is allowed; the hash continues where it was. The hashes
    of the file (lane 0), of a member's ciphertext (its MAC, lane 1) and of its plaintext (lane 2) run on ``lanes``,
    off the thread that decrypts, inflates and counts.
    """

    def __init__(self, fd: int, size: int, lanes: Lanes) -> None:
        self._fd = fd
        self.lanes = lanes
        self.size = size
        self.position = 0
        self._hashed = 0
        self.sha256 = hashlib.sha256()

    def pread(self, length: int, offset: int) -> bytes:
        """Bytes at ``offset`` outside the sequential pass (not hashed); short only at the end of the file."""
        parts: list[bytes] = []
        while length:
            data = os.pread(self._fd, min(length, CHUNK_SIZE), offset)
            if not data:
                break
            parts.append(data)
            offset += len(data)
            length -= len(data)
        return b"".join(parts)

    def read(self, length: int) -> bytes:
        """Exactly ``length`` bytes at the current position; a short file is a proof failure."""
        data = self.pread(length, self.position)
        if len(data) != length:
            raise PackageProofError("ファイルが途中で切れています")
        end = self.position + length
        if end > self._hashed:
            self.lanes.submit(0, self.sha256.update, data[self._hashed - self.position :])
            self._hashed = end
        self.position = end
        return data

    def rewind(self, position: int) -> None:
        self.position = position


class _Member(io.RawIOBase):
    """The plaintext of one entry, decrypted, authenticated and inflated as it is read.

    Seekable back to its start only (a CSV reader detects the encoding, then starts over): that restarts
    decryption, the MAC and the hashes, so what is checked is always one full pass.
    """

    def __init__(self, reader: _Reader, start: int, length: int, keys: tuple[bytes, bytes], method: int) -> None:
        super().__init__()
        self._reader = reader
        self._start = start
        self._length = length
        self._aes_key, self._mac_key = keys
        self._method = method
        self._restart()

    def _restart(self) -> None:
        self._reader.rewind(self._start)
        self._left = self._length
        self._ctr = WinZipAesCtr(self._aes_key)
        self._mac = hmac.new(self._mac_key, digestmod="sha1")
        self._inflate = inflater() if self._method == 8 else None
        self._tail = b""
        self._pending = memoryview(b"")
        self._position = 0
        self.size = 0
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR and offset == 0:
            return self._position
        if whence == io.SEEK_SET and offset == 0:
            self._restart()
            return 0
        raise io.UnsupportedOperation("a package member can only be rewound to its start")

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._pending:
            produced = self._produce()
            if produced is None:
                return 0
            self._pending = memoryview(produced)
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._position += count
        return count

    def _cipher(self) -> memoryview:
        data = self._reader.read(min(CHUNK_SIZE, self._left))
        self._left -= len(data)
        self._reader.lanes.submit(1, self._mac.update, data)
        return self._ctr.process(data)

    def _produce(self) -> Buffer | None:
        """The next piece of plaintext (at most a chunk, possibly empty), or None at the end of the entry."""
        inflate = self._inflate
        plain: Buffer
        if inflate is None:
            if not self._left:
                return None
            plain = self._cipher()
        elif self._tail:
            plain = inflate.decompress(self._tail, CHUNK_SIZE)
            self._tail = inflate.unconsumed_tail
        elif self._left:
            if inflate.eof:
                raise PackageProofError("圧縮データの終わりの後に余分なデータがあります")
            plain = inflate.decompress(self._cipher(), CHUNK_SIZE)
            self._tail = inflate.unconsumed_tail
        else:
            if not inflate.eof:
                raise PackageProofError("圧縮データが途中で終わっています")
            if inflate.unused_data:
                raise PackageProofError("圧縮データの終わりの後に余分なデータがあります")
            return None
        self.size += len(plain)
        self._reader.lanes.submit(2, self.sha256.update, plain)
        return plain

    def drain(self) -> None:
        """Read the rest of the entry (what a reader of the member left unread is still checked)."""
        while self._produce() is not None:
            pass

    def authenticate(self, stored: bytes) -> bool:
        """Feed the MAC with the ciphertext not read yet (after a content error) and compare it."""
        while self._left:
            data = self._reader.read(min(CHUNK_SIZE, self._left))
            self._left -= len(data)
            self._reader.lanes.submit(1, self._mac.update, data)
        self._reader.lanes.drain()  # the MAC and the plaintext's hash are complete from here on
        return hmac.compare_digest(self._mac.digest()[:_MAC_LEN], stored)


def _aes_extra(method: int) -> bytes:
    return _AES_EXTRA.pack(0x9901, 7, 2, b"AE", 3, method)


def _directory(reader: _Reader) -> tuple[list[_Entry], int, bytes]:
    """The central directory's entries, its offset and its size, from the end records of the file."""
    tail = reader.pread(_EOCD.size, reader.size - _EOCD.size)
    if len(tail) != _EOCD.size or reader.size < _EOCD.size:
        raise PackageProofError("ファイルが途中で切れています（終端レコードがありません）")
    signature, _, _, count16, total16, size32, start32, comment = _EOCD.unpack(tail)
    if signature != 0x06054B50 or comment:
        raise PackageProofError("ファイルが途中で切れています（終端レコードがありません）")
    count, size, start, end = count16, size32, start32, reader.size - _EOCD.size
    if count16 == _MAX16 or size32 == _MAX32 or start32 == _MAX32:
        locator = _LOCATOR.unpack(reader.pread(_LOCATOR.size, end - _LOCATOR.size))
        record = reader.pread(_EOCD64.size, locator[2])
        if locator[0] != 0x07064B50 or len(record) != _EOCD64.size:
            raise PackageProofError("ZIP64の終端レコードが読めません")
        fields = _EOCD64.unpack(record)
        if fields[0] != 0x06064B50 or locator[2] + _EOCD64.size + _LOCATOR.size != end:
            raise PackageProofError("ZIP64の終端レコードが読めません")
        count, size, start, end = fields[6], fields[8], fields[9], locator[2]
    elif count16 != total16:
        raise PackageProofError("終端レコードの項目数が食い違っています")
    if start + size != end or size > _MAX_DIRECTORY:
        raise PackageProofError("中央ディレクトリの位置が終端レコードと一致しません")
    directory = reader.pread(size, start)
    return _parse_directory(directory, count), start, directory


def _parse_directory(data: bytes, count: int) -> list[_Entry]:
    entries: list[_Entry] = []
    at = 0
    for _ in range(count):
        if at + _CENTRAL.size > len(data):
            raise PackageProofError("中央ディレクトリが途中で切れています")
        fields = _CENTRAL.unpack_from(data, at)
        if fields[0] != 0x02014B50 or fields[4] != _METHOD_AES or fields[12] or fields[13]:
            raise PackageProofError("中央ディレクトリの項目が読めません")
        name_end = at + _CENTRAL.size + fields[10]
        extra = data[name_end : name_end + fields[11]]
        name = data[at + _CENTRAL.size : name_end].decode("utf-8", errors="replace")
        usize, csize, offset = fields[9], fields[8], fields[16]
        wide = [value for value in (usize, csize, offset) if value == _MAX32]
        if wide:
            values = list(struct.unpack_from(f"<HH{len(wide)}Q", extra))[2:]
            usize = values.pop(0) if usize == _MAX32 else usize
            csize = values.pop(0) if csize == _MAX32 else csize
            offset = values.pop(0) if offset == _MAX32 else offset
            extra = extra[4 + 8 * len(wide) :]
        if len(extra) != _AES_EXTRA.size or extra[:4] != _aes_extra(0)[:4]:
            raise PackageProofError(f"{name}: 中央ディレクトリの暗号化情報が読めません")
        method = _AES_EXTRA.unpack(extra)[5]
        if extra != _aes_extra(method) or method not in _METHODS:
            raise PackageProofError(f"{name}: 中央ディレクトリの暗号化情報が読めません")
        entries.append(_Entry(name, fields[3], fields[5], fields[6], method, csize, usize, offset))
        at = name_end + fields[11]
    if at != len(data):
        raise PackageProofError("中央ディレクトリに余分なデータがあります")
    return entries


def _local_header(reader: _Reader, entry: _Entry) -> bool:
    """Read the entry's local header and check it against the directory; True when it uses ZIP64 sizes."""
    if reader.position != entry.offset:
        raise PackageProofError(f"{entry.name}: ローカルヘッダーの位置が中央ディレクトリと一致しません")
    fields = _LOCAL.unpack(reader.read(_LOCAL.size))
    name = reader.read(fields[9])
    extra = reader.read(fields[10])
    zip64 = bool(fields[7] == _MAX32)
    expected_extra = (struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b"") + _aes_extra(entry.method)
    if (
        fields[0] != 0x04034B50
        or (fields[2], fields[3], fields[4], fields[5]) != (entry.flags, _METHOD_AES, entry.dos_time, entry.dos_date)
        or fields[7:9] != ((_MAX32, _MAX32) if zip64 else (0, 0))
        or name != entry.name.encode("utf-8")
        or extra != expected_extra
    ):
        raise PackageProofError(f"{entry.name}: ローカルヘッダーが中央ディレクトリと一致しません")
    return zip64


def _counted(member: _Member, name: str, spool_dir: Path) -> int:
    """Records in the member, counted by the hub's own table reader (fully empty rows are not records)."""
    # Imported here: the table reader loads openpyxl (~12 MiB resident), which only a counted member needs.
    from policies.tabular import open_table, read_csv, table_kind

    kind = table_kind(Path(name))
    if kind == "csv":
        table = read_csv(io.BufferedReader(member, CHUNK_SIZE))
        return sum(1 for _ in table)
    if kind == "xlsx":
        # openpyxl needs random access, so the member is spooled to a private file beside the package (the
        # work folder, which holds the same plaintext already) and removed at once.
        fd, spooled = tempfile.mkstemp(prefix=".proof-", suffix=Path(name).suffix, dir=spool_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                while (piece := member.read(CHUNK_SIZE)) is not None and piece:
                    out.write(piece)
            with open_table(Path(spooled)) as table:
                return sum(1 for _ in table)
        finally:
            os.unlink(spooled)
    raise PackageProofError(f"{name}: 件数を数えられない形式です")


def _prove_member(
    reader: _Reader, entry: _Entry, expected: Expected, password: bytes, spool_dir: Path
) -> Iterator[str]:
    """Read one entry; yield what differs from ``expected`` (nothing when it matches)."""
    zip64 = _local_header(reader, entry)
    start = reader.position
    header = reader.read(_SALT_LEN + 2)
    aes_key, mac_key, verifier = derive_keys(password, header[:_SALT_LEN])
    if not hmac.compare_digest(verifier, header[_SALT_LEN:]):
        raise PackageProofError(f"{entry.name}: パスワードの確認値が一致しません")
    length = entry.compressed_size - len(header) - _MAC_LEN
    if length < 0 or start + entry.compressed_size > reader.size:
        raise PackageProofError(f"{entry.name}: 圧縮後サイズが不正です")
    member = _Member(reader, reader.position, length, (aes_key, mac_key), entry.method)
    records: int | None = None
    problem: str | None = None
    try:
        if expected.records is not None:
            records = _counted(member, entry.name, spool_dir)
        member.drain()
    except (PolicyRefusal, zlib.error, INFLATE_ERROR, PackageProofError) as exc:
        problem = exc.reason if isinstance(exc, PolicyRefusal | PackageProofError) else f"展開できません: {exc}"
    authentic = member.authenticate(reader.read(_MAC_LEN))
    if not authentic:
        raise PackageProofError(f"{entry.name}: 認証コード（HMAC）が一致しません。暗号化されたデータが壊れています")
    if problem is not None:
        raise PackageProofError(f"{entry.name}: {problem}")
    descriptor = reader.read(24 if zip64 else 16)
    layout = "<IIQQ" if zip64 else "<IIII"
    if struct.unpack(layout, descriptor) != (0x08074B50, 0, entry.compressed_size, entry.size):
        raise PackageProofError(f"{entry.name}: データ記述子が中央ディレクトリと一致しません")
    if member.size != entry.size:
        yield f"{entry.name}のサイズ: 展開後{member.size}バイト、ZIPの記載{entry.size}バイト"
    if member.size != expected.size:
        yield f"{entry.name}のサイズ: 展開後{member.size}バイト、記録{expected.size}バイト"
    if member.sha256.hexdigest() != expected.sha256:
        yield f"{entry.name}のSHA-256が記録と異なります"
    if records != expected.records:
        yield f"{entry.name}の件数: 読み直すと{records}件、記録{expected.records}件"


def _release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing happens).

    Why: the writer's threads free their 1 MiB buffers into malloc arenas that keep them, and the proof, which
    loads the table reader besides, would otherwise stack its own buffers on top: this keeps a package's peak
    memory a few MiB lower (issue 16: at most 64 MB whatever the file size).
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def prove(fp: BinaryIO, password: str, members: Sequence[Expected], *, size: int, sha256: str, spool_dir: Path) -> None:
    """Read the ZIP open as ``fp`` from its first byte to its last; raise :class:`PackageProofError` unless it
    holds exactly ``members`` in order and is ``size`` bytes hashing to ``sha256``.

    ``spool_dir`` takes a short-lived plaintext copy of an XLSX member while it is counted (use the package's
    own private directory).
    """
    _release_free_memory()
    lanes = Lanes("file", "mac", "sum")
    try:
        _prove(_Reader(fp.fileno(), os.fstat(fp.fileno()).st_size, lanes), password, members, size, sha256, spool_dir)
    finally:
        lanes.close(cancel=True)


def _prove(
    reader: _Reader, password: str, members: Sequence[Expected], size: int, sha256: str, spool_dir: Path
) -> None:
    if reader.size != size:
        raise PackageProofError(f"ファイルサイズ: {reader.size}バイト、記録{size}バイト")
    try:
        entries, start, directory = _directory(reader)
        names = [entry.name for entry in entries]
        if names != [member.name for member in members]:
            raise PackageProofError(f"収められたファイルが記録と異なります: {'、'.join(names) or 'なし'}")
        secret = password.encode("utf-8")
        problems = [
            problem
            for entry, expected in zip(entries, members, strict=True)
            for problem in _prove_member(reader, entry, expected, secret, spool_dir)
        ]
        if reader.position != start:
            raise PackageProofError("最後のファイルと中央ディレクトリの間に余分なデータがあります")
        if reader.read(len(directory)) != directory:
            raise PackageProofError("中央ディレクトリが読むたびに異なります")
        reader.read(reader.size - reader.position)
    except (struct.error, UnicodeError) as exc:
        raise PackageProofError(f"ZIPの構造が読めません: {exc}") from exc
    if problems:
        raise PackageProofError("、".join(problems[:5]))
    reader.lanes.drain()
    if reader.sha256.hexdigest() != sha256:
        raise PackageProofError("ファイル全体のSHA-256が記録と異なります")
