"""Files sealed at rest: personal data the hub keeps that is not already an AES ZIP (contractor uploads,
quarantined drops) is written only in this form, so nothing under the data directory reads as plain text.

Envelope encryption, as for secrets (``sealing``): each file gets a fresh 256-bit data key, wrapped under the
master key in the file's header (a ``SealedSecret`` of the data key). The content is cut into 1 MiB chunks, each
encrypted with AES-256-GCM under the data key in the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár
2015): nonce = 7 random bytes, a 32-bit chunk counter, and a last-chunk flag. So a chunk cannot be dropped,
reordered or moved to another file, and a truncated file fails to open instead of reading short. The caller's
``aad`` (e.g. ``b"inbound:" + public id``) is bound to the wrapped key and to every chunk: a sealed file copied
under another row's name does not open. Memory stays flat in the file's size both ways.

Layout: ``MAGIC``, header length (4 bytes, big-endian), header, nonce prefix (7 bytes), then the chunks, each
``CHUNK_BYTES`` of plaintext plus a 16-byte tag, the last one shorter (possibly empty) and flagged.

Deleting a sealed file's header destroys its only wrapped data key (crypto-erase); the master key alone cannot
recover the content.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.keys.sealing import Keyring, MasterKey, SealedSecret, SealingError, UnsealError, seal, unseal
from ledger.files import AtomicFile

MAGIC: Final = b"HOSEALF1"
CHUNK_BYTES: Final = 1024 * 1024
_TAG_BYTES: Final = 16
_PREFIX_BYTES: Final = 7
_KEY_CONTEXT: Final = b"handover/sealed-file/v1/key\x00"
_CHUNK_CONTEXT: Final = b"handover/sealed-file/v1/chunk\x00"
_MAX_HEADER: Final = 4096


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 2**32:
        raise SealingError("a sealed file holds at most 2^32 chunks (4 PiB)")
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class SealedFileWriter:
    """Seals what is written into ``path``; the file appears under its name only on :meth:`commit`.

    Synchronous by design: an event loop drives it through ``asyncio.to_thread`` one call at a time.
    """

    def __init__(self, path: Path, master: MasterKey, aad: bytes) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        header = seal(master, data_key, _KEY_CONTEXT + aad).to_bytes()
        self._aead = AESGCM(data_key)
        self._aad = _CHUNK_CONTEXT + aad
        self._prefix = secrets.token_bytes(_PREFIX_BYTES)
        self._counter = 0
        self._buffer = bytearray()
        self._pending = AtomicFile(path)
        self.path = path
        self._pending.file.write(MAGIC + struct.pack(">I", len(header)) + header + self._prefix)

    def _emit(self, plaintext: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        self._pending.file.write(self._aead.encrypt(nonce, plaintext, self._aad))
        self._counter += 1

    def write(self, data: bytes) -> None:
        self._buffer += data
        # A full chunk is sealed as "not last" only once more data follows it, so the last chunk is never empty
        # unless the whole file is.
        while len(self._buffer) > CHUNK_BYTES:
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]

    def commit(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._pending.commit()

    def discard(self) -> None:
        self._pending.discard()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise UnsealError("the sealed file is truncated")
    return data


def open_sealed(stream: BinaryIO, keyring: Keyring, aad: bytes) -> Iterator[bytes]:
    """The plaintext of an open sealed file, chunk by chunk; raises ``UnsealError`` on any tampering, a wrong
    ``aad`` or a truncated file (only after the chunks before the fault were yielded: a caller that must not act
    on part of a file reads it whole before acting)."""
    if stream.read(len(MAGIC)) != MAGIC:
        raise UnsealError("not a sealed file")
    (length,) = struct.unpack(">I", _read_exact(stream, 4))
    if length > _MAX_HEADER:
        raise UnsealError("the sealed file's header is malformed")
    try:
        data_key = unseal(keyring, SealedSecret.from_bytes(_read_exact(stream, length)), _KEY_CONTEXT + aad)
    except SealingError as exc:
        raise UnsealError(f"cannot open the sealed file: {exc}") from None
    aead, chunk_aad = AESGCM(data_key), _CHUNK_CONTEXT + aad
    prefix = _read_exact(stream, _PREFIX_BYTES)
    counter = 0
    current = stream.read(CHUNK_BYTES + _TAG_BYTES)
    while True:
        following = stream.read(CHUNK_BYTES + _TAG_BYTES) if len(current) == CHUNK_BYTES + _TAG_BYTES else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, counter, last), current, chunk_aad)
        except InvalidTag:
            raise UnsealError("a chunk of the sealed file does not authenticate (tampered or truncated)") from None
        if last:
            return
        counter, current = counter + 1, following


def seal_stream_to(path: Path, source: BinaryIO, master: MasterKey, aad: bytes) -> int:
    """Seal everything readable from ``source`` (an already opened file) into ``path``; returns the plain size."""
    writer = SealedFileWriter(path, master, aad)
    size = 0
    try:
        while block := source.read(CHUNK_BYTES):
            writer.write(block)
            size += len(block)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    return size


async def read_sealed(path: Path, keyring: Keyring, aad: bytes) -> AsyncIterator[bytes]:
    """The plaintext of a sealed file for an event loop: each read and decryption runs in a worker thread."""
    stream = await asyncio.to_thread(_open_private, path)
    try:
        chunks = open_sealed(stream, keyring, aad)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        await asyncio.to_thread(stream.close)


def _open_private(path: Path) -> BinaryIO:
    # O_NOFOLLOW: a sealed file is always a regular file the hub wrote; a link in its place is not followed.
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def read_sealed_sync(path: Path, keyring: Keyring, aad: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed file, for commands and worker threads."""
    with _open_private(path) as stream:
        yield from open_sealed(stream, keyring, aad)
