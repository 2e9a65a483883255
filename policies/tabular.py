"""Streaming readers and writers for the tabular files wards exchange: CSV and XLSX.

CSV comes as UTF-8, UTF-8 with BOM, or CP932 (Shift_JIS as Windows writes it). The encoding is detected
unless a route forces one: a BOM means ``utf-8-sig``; otherwise the first non-ASCII bytes are tried as strict
UTF-8 and, failing that, the file is read as CP932. Bytes that do not decode are never replaced: the file is
refused with the line and byte offset, because a silently mangled name or account number is worse than a
quarantined file.

Everything is row by row: memory stays flat whatever the file size (a line is held whole, so one absurdly long
line costs its own length).
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO, Literal

import openpyxl
from openpyxl.utils.exceptions import IllegalCharacterError, InvalidFileException

from policies.errors import PolicyRefusal, RefusalCode

TableKind = Literal["csv", "xlsx"]
CSV_ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
_CSV_SUFFIXES = frozenset({".csv"})
_XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_CHUNK = 1 << 16
# Detection stops here; a file that is pure ASCII this far is taken as UTF-8 and a later CP932 byte is
# refused with its offset (the route can then force cp932).
_DETECT_LIMIT = 4 << 20
_ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8（BOM付き）", "cp932": "Shift_JIS（CP932）"}


@dataclass(frozen=True)
class TableFormat:
    """How a table is stored: ``kind`` and, for CSV, the encoding (``utf-8-sig`` keeps the BOM)."""

    kind: TableKind
    encoding: str | None = None


def table_kind(path: Path) -> TableKind | None:
    """The tabular kind of ``path`` by its suffix, or None for files that are not tables (PDF, images…)."""
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _XLSX_SUFFIXES:
        return "xlsx"
    return None


def _check_encoding(encoding: str) -> str:
    if encoding not in CSV_ENCODINGS:
        raise ValueError(f"unsupported CSV encoding {encoding!r}; use one of {CSV_ENCODINGS}")
    return encoding


def detect_encoding(raw: BinaryIO) -> str:
    """Detect the encoding of the CSV bytes in ``raw`` (read from the start; the position is restored to 0)."""
    try:
        if raw.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            return "utf-8-sig"
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        seen = 0
        while seen < _DETECT_LIMIT:
            chunk = raw.read(_CHUNK)
            seen += len(chunk)
            try:
                # final=False keeps a multibyte character cut at the chunk boundary pending instead of failing.
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                return "cp932"
            if not chunk or not chunk.isascii():
                return "utf-8"
        return "utf-8"
    finally:
        raw.seek(0)


def _decoded_lines(raw: BinaryIO, encoding: str) -> Iterator[str]:
    """Decode ``raw`` strictly, yielding lines with their endings (as ``csv.reader`` wants them).

    Blocks are cut after a LF byte: 0x0A is never part of a multibyte character in UTF-8 or CP932, so every
    block decodes on its own and an error offset is exact.
    """
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    offset = 0
    if encoding == "utf-8-sig" and raw.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
        offset = len(codecs.BOM_UTF8)
    else:
        raw.seek(0)
    line = 1
    pending = b""
    while True:
        chunk = raw.read(_CHUNK)
        data = pending + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        if chunk and cut == 0:
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        try:
            text = block.decode(codec)
        except UnicodeDecodeError as exc:
            bad_line = line + block.count(b"\n", 0, exc.start)
            bad_bytes = block[exc.start : exc.end].hex(" ").upper()
            raise PolicyRefusal(
                RefusalCode.ENCODING,
                f"{_ENCODING_LABELS[encoding]}として読めないバイトがあります（{bad_line}行目、"
                f"先頭から{offset + exc.start + 1}バイト目: {bad_bytes}）。ファイルが壊れているか、"
                "文字コードが違います。",
            ) from exc
        offset += len(block)
        line += block.count(b"\n")
        yield from io.StringIO(text, newline="")
        if not chunk:
            return


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Table:
    """An open table: its format, its header and an iterator over its data rows (all cells as text).

    Fully empty rows (a trailing blank line, an empty spreadsheet row) are skipped. ``location`` names the
    place of the last row read, for error messages.
    """

    def __init__(self, fmt: TableFormat, header: tuple[str, ...], rows: Iterator[list[str]]) -> None:
        self.format = fmt
        self.header = header
        self._rows = rows
        self.record = 0

    def __iter__(self) -> Iterator[list[str]]:
        for row in self._rows:
            if any(row):  # cells are text: an empty string is an empty cell
                self.record += 1
                yield row

    @property
    def location(self) -> str:
        return f"{self.record}件目のデータ（見出しを除く）"


def _csv_rows(lines: Iterator[str]) -> Iterator[list[str]]:
    reader = csv.reader(lines, strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise PolicyRefusal(
            RefusalCode.MALFORMED,
            f"CSVの形式が正しくありません（{reader.line_num}行目付近: {exc}）。引用符の閉じ忘れ等を確認してください。",
        ) from exc


@contextmanager
def open_table(path: Path, *, encoding: str | None = None) -> Iterator[Table]:
    """Open ``path`` (CSV or XLSX) for streaming; ``encoding`` forces a CSV encoding instead of detecting it."""
    kind = table_kind(path)
    if kind is None:
        raise ValueError(f"{path.name} is not a tabular file")
    if kind == "xlsx":
        with _open_xlsx(path) as table:
            yield table
        return
    with path.open("rb") as raw:
        yield read_csv(raw, encoding=encoding)


@contextmanager
def read_table(raw: BinaryIO, kind: TableKind, *, encoding: str | None = None) -> Iterator[Table]:
    """The table in ``raw`` (seekable, e.g. an upload held in memory), read as :func:`open_table` reads a file:
    a small upload is parsed where it is, so no plaintext copy has to be written to disk first."""
    if kind == "xlsx":
        with _open_xlsx(raw) as table:
            yield table
        return
    yield read_csv(raw, encoding=encoding)


def read_csv(raw: BinaryIO, *, encoding: str | None = None) -> Table:
    """The CSV table in ``raw``, read as :func:`open_table` reads a file; ``raw`` must be able to seek back to
    its start (encoding detection reads ahead, then rewinds). The package proof reads members this way."""
    chosen = _check_encoding(encoding) if encoding else detect_encoding(raw)
    rows = _csv_rows(_decoded_lines(raw, chosen))
    header = next(rows, [])
    return Table(TableFormat("csv", chosen), tuple(header), rows)


# Bounds for reading an XLSX with bounded memory: openpyxl holds shared strings and each cell's text in memory,
# so a member, a text run and the compression ratio are capped before openpyxl sees the file.
XLSX_MAX_MEMBER = 512 * 1024 * 1024
XLSX_MAX_TOTAL = 2 * 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200
XLSX_MAX_TEXT_RUN = 1024 * 1024  # Excel caps a cell at 32,767 characters; 1 MiB of text between tags is no cell
_XML_DECLS = (b"<!DOCTYPE", b"<!ENTITY")


def _unreadable_xlsx(detail: str) -> PolicyRefusal:
    return PolicyRefusal(RefusalCode.MALFORMED, f"Excelファイルとして読めません（{detail}）。")


def check_xlsx(path: Path | BinaryIO) -> None:
    """Refuse, before any XML parser runs, a broken or hostile XLSX: truncated or corrupt (CRC), zip bombs,
    DTDs/entities (billion laughs, XXE) and oversize cells. One streaming pass, memory bounded by the chunk.
    ``path`` may be an open seekable file (an upload decrypted into memory, which never touches the disk)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > XLSX_MAX_TOTAL:
                raise _unreadable_xlsx("展開後のサイズが大きすぎます")
            for info in infos:
                if info.file_size > XLSX_MAX_MEMBER:
                    raise _unreadable_xlsx(f"内部ファイル {info.filename} が大きすぎます")
                if info.file_size > 1024 * 1024 and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1):
                    raise _unreadable_xlsx(f"内部ファイル {info.filename} の圧縮率が異常です（圧縮爆弾の疑い）")
                _scan_member(archive, info)
    except PolicyRefusal:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError, zlib.error) as exc:
        raise _unreadable_xlsx(f"ファイルが壊れているか途中で切れています: {exc}") from exc
    except OSError as exc:
        if exc.errno in _TRANSIENT_ERRNOS:
            raise
        raise _unreadable_xlsx(f"ファイルが壊れているか途中で切れています: {exc}") from exc


_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.ENOMEM, errno.EAGAIN, errno.EDQUOT})


def _scan_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    is_xml = info.filename.endswith((".xml", ".rels", ".vml"))
    run = 0
    tail = b""
    with archive.open(info) as member:  # reading to the end verifies the CRC
        while chunk := member.read(1 << 20):
            if not is_xml:
                continue
            window = tail + chunk
            if any(decl in window for decl in _XML_DECLS):
                raise _unreadable_xlsx(f"内部ファイル {info.filename} にDTD・実体宣言があります（不正なXML）")
            tail = window[-16:]
            parts = chunk.split(b"<")
            if len(parts) == 1:
                longest = run = run + len(chunk)
            else:
                longest = max(run + len(parts[0]), *(len(part) for part in parts[1:-1]), 0)
                run = len(parts[-1])
            if max(longest, run) > XLSX_MAX_TEXT_RUN:
                raise _unreadable_xlsx(f"内部ファイル {info.filename} に大きすぎるセル・要素があります")


@contextmanager
def open_table_stream(raw: BinaryIO, kind: TableKind) -> Iterator[Table]:
    """As :func:`open_table`, for a table held in a seekable stream instead of a file (a sealed upload read
    back into memory); CSV encodings are detected."""
    if kind == "xlsx":
        with _open_xlsx(raw) as table:
            yield table
        return
    yield read_csv(raw)


@contextmanager
def _open_xlsx(path: Path | BinaryIO) -> Iterator[Table]:
    check_xlsx(path)
    if not isinstance(path, Path):
        path.seek(0)  # the check read it through
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, InvalidFileException, SyntaxError) as exc:
        raise _unreadable_xlsx(str(exc)) from exc
    try:
        sheet = book.worksheets[0]
        cells = _guarded(sheet.iter_rows(values_only=True))
        header = [_cell_text(value) for value in next(cells, ())]
        while header and header[-1] == "":
            header.pop()
        rows = ([_cell_text(value) for value in values] for values in cells)
        yield Table(TableFormat("xlsx"), tuple(header), _trim_rows(rows, len(header)))
    finally:
        book.close()


def _guarded(cells: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
    # Whatever still breaks while parsing the sheet is the file's fault, never a reason to retry.
    try:
        yield from cells
    except (KeyError, ValueError, TypeError, SyntaxError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _unreadable_xlsx(str(exc) or type(exc).__name__) from exc


def _trim_rows(rows: Iterator[list[str]], width: int) -> Iterator[list[str]]:
    # Spreadsheets pad rows to the sheet's widest row (empty cells past the header are not data) and may
    # end a row early where its last cells are empty.
    for row in rows:
        while len(row) > width and row[-1] == "":
            row.pop()
        row.extend([""] * (width - len(row)))
        yield row


class TableWriter:
    """Writes rows of text to a table created by :func:`create_table`; ``count`` is the data rows written.

    ``records`` leaves out fully empty rows, which :class:`Table` skips when the file is read back: it is the
    record count a reader of the file (the package proof, a plugin) finds.
    """

    def __init__(self, write: Callable[[Sequence[str]], None]) -> None:
        self._write = write
        self.count = 0
        self.records = 0

    def write(self, row: Sequence[str]) -> None:
        self.count += 1
        if any(row):
            self.records += 1
        try:
            self._write(row)
        except UnicodeEncodeError as exc:
            char = exc.object[exc.start : exc.end]
            raise PolicyRefusal(
                RefusalCode.UNREPRESENTABLE,
                f"{self.count}件目のデータに出力先の文字コード（{exc.encoding}）で表せない文字「{char}」があります。",
            ) from exc
        except IllegalCharacterError as exc:
            raise PolicyRefusal(
                RefusalCode.UNREPRESENTABLE,
                f"{self.count}件目のデータにExcelで扱えない制御文字があります。",
            ) from exc


@contextmanager
def create_table(path: Path, fmt: TableFormat, header: Sequence[str]) -> Iterator[TableWriter]:
    """Create ``path`` in ``fmt`` with ``header``; CSV lines end in CRLF as Windows tools expect."""
    if fmt.kind == "xlsx":
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(list(header))
        yield TableWriter(lambda row: sheet.append(list(row)))
        book.save(path)
        return
    encoding = _check_encoding(fmt.encoding or "utf-8")
    with path.open("wb") as raw, io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="") as text:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        yield TableWriter(writer.writerow)
