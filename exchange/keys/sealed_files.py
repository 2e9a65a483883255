"""Files sealed at rest in the blob store: personal data the hub keeps that is not already an AES ZIP (contractor
uploads, quarantined drops, the ward's reference extracts, inspection attachments) is stored only in this form,
so nothing in the store (a local folder or a bucket) reads as plain text.

Envelope encryption, as for secrets (``sealing``): each file gets a fresh 256-bit data key, wrapped under the
master key in the file's header (a ``SealedSecret`` of the data key). The content is cut into 1 MiB chunks, each
encrypted with AES-256-GCM under the data key in the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár
2015): nonce = 7 random bytes, a 32-bit chunk counter, and a last-chunk flag. So a chunk cannot be dropped,
reordered or moved to another file, and a truncated file fails to open instead of reading short. The caller's
``aad`` (e.g. ``b"inbound:" + public id``) is bound to the wrapped key and to every chunk: a sealed blob copied
under another row's key does not open.

Both ways stream: ``seal_into`` encrypts chunk by chunk while the store's ``put`` takes the sealed bytes, and
``open_sealed_blob`` reads the blob in the store's chunks and decrypts one sealed chunk at a time. Memory stays flat
in the file's size, and every encryption and decryption runs in a worker thread (never on the event loop).

Layout: ``MAGIC``, header length (4 bytes, big-endian), header, nonce prefix (7 bytes), then the chunks, each
``CHUNK_BYTES`` of plaintext plus a 16-byte tag, the last one shorter (possibly empty) and flagged.

Deleting a sealed blob destroys its only wrapped data key (crypto-erase); the master key alone cannot recover the
content.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.blobs.store import BlobInfo, BlobStore
from exchange.keys.sealing import Keyring, MasterKey, SealedSecret, SealingError, UnsealError, seal, unseal

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


class _Sealer:
    """The STREAM encryption state of one file; synchronous, driven one call at a time from a worker thread."""

    def __init__(self, master: MasterKey, aad: bytes) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        header = seal(master, data_key, _KEY_CONTEXT + aad).to_bytes()
        self._aead = AESGCM(data_key)
        self._aad = _CHUNK_CONTEXT + aad
        self._prefix = secrets.token_bytes(_PREFIX_BYTES)
        self._counter = 0
        self._buffer = bytearray()
        self.head = MAGIC + struct.pack(">I", len(header)) + header + self._prefix

    def _emit(self, plaintext: bytes, last: bool) -> bytes:
        nonce = _nonce(self._prefix, self._counter, last)
        self._counter += 1
        return self._aead.encrypt(nonce, plaintext, self._aad)

    def write(self, data: bytes) -> bytes:
        """The sealed chunks ``data`` completes (possibly none)."""
        self._buffer += data
        out = bytearray()
        # A full chunk is sealed as "not last" only once more data follows it, so the last chunk is never empty
        # unless the whole file is.
        while len(self._buffer) > CHUNK_BYTES:
            out += self._emit(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return bytes(out)

    def finish(self) -> bytes:
        last = self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        return last


async def sealed_chunks(chunks: AsyncIterable[bytes], master: MasterKey, aad: bytes) -> AsyncIterator[bytes]:
    """The sealed form of ``chunks``, produced as they arrive (each encryption in a worker thread)."""
    sealer = await asyncio.to_thread(_Sealer, master, aad)
    yield sealer.head
    async for chunk in chunks:
        if sealed := await asyncio.to_thread(sealer.write, chunk):
            yield sealed
    yield await asyncio.to_thread(sealer.finish)


async def seal_into(
    store: BlobStore, key: str, chunks: AsyncIterable[bytes], master: MasterKey, aad: bytes
) -> BlobInfo:
    """Seal ``chunks`` into the blob ``key`` (replacing what was there); returns what the store holds (the sealed
    size and hash). An exception from ``chunks`` (a refused upload, a failed read) leaves no blob under ``key``."""
    return await store.put(key, sealed_chunks(chunks, master, aad))


class _Buffered:
    """Exact-size reads over a blob's chunks (the store's chunking need not match the sealed chunks')."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._ended = False

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the blob."""
        while len(self._buffer) < size and not self._ended:
            try:
                self._buffer += await anext(self._chunks)
            except StopAsyncIteration:
                self._ended = True
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def exactly(self, size: int) -> bytes:
        data = await self.read(size)
        if len(data) != size:
            raise UnsealError("the sealed file is truncated")
        return data


def _open_key(keyring: Keyring, header: bytes, aad: bytes) -> AESGCM:
    try:
        return AESGCM(unseal(keyring, SealedSecret.from_bytes(header), _KEY_CONTEXT + aad))
    except SealingError as exc:
        raise UnsealError(f"cannot open the sealed file: {exc}") from None


def _decrypt(aead: AESGCM, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return aead.decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise UnsealError("a chunk of the sealed file does not authenticate (tampered or truncated)") from None


async def open_sealed_blob(store: BlobStore, key: str, keyring: Keyring, aad: bytes) -> AsyncIterator[bytes]:
    """The plaintext of the sealed blob ``key``, chunk by chunk; raises ``BlobMissing`` when there is none and
    ``UnsealError`` on any tampering, a wrong ``aad`` or a truncated blob (only after the chunks before the fault
    were yielded: a caller that must not act on part of a file reads it whole before acting)."""
    blob = store.read(key)
    try:
        stream = _Buffered(blob)
        if await stream.read(len(MAGIC)) != MAGIC:
            raise UnsealError("not a sealed file")
        (length,) = struct.unpack(">I", await stream.exactly(4))
        if length > _MAX_HEADER:
            raise UnsealError("the sealed file's header is malformed")
        aead = await asyncio.to_thread(_open_key, keyring, await stream.exactly(length), aad)
        chunk_aad = _CHUNK_CONTEXT + aad
        prefix = await stream.exactly(_PREFIX_BYTES)
        counter = 0
        current = await stream.read(CHUNK_BYTES + _TAG_BYTES)
        while True:
            full = len(current) == CHUNK_BYTES + _TAG_BYTES
            following = await stream.read(CHUNK_BYTES + _TAG_BYTES) if full else b""
            last = not following
            yield await asyncio.to_thread(_decrypt, aead, _nonce(prefix, counter, last), current, chunk_aad)
            if last:
                return
            counter, current = counter + 1, following
    finally:
        # Close the store's reader now (its file or connection), not whenever the generator is collected.
        close = getattr(blob, "aclose", None)
        if close is not None:
            await close()
