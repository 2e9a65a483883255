"""Envelope encryption for secrets at rest (package passwords).

Each secret gets a fresh 256-bit data key; the secret is encrypted with AES-256-GCM under the data key, and
the data key is wrapped with AES-256-GCM under a master key kept outside the database (``sources``). The
additional authenticated data (AAD, e.g. the package id) is bound to both layers, so a sealed password copied
into another package's row fails to unseal. Master keys are named by a short hash (key id) stored with each
sealed secret; a ``Keyring`` holds the current key for sealing and older ones for unsealing, and ``rewrap``
moves a secret to the current key without touching its ciphertext.

Crypto-erase needs no code here: deleting the row that holds a sealed secret destroys its only wrapped data
key, and the master key alone cannot recover it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.files import write_atomic

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_FORMAT_VERSION: Final = 1
_WRAP_CONTEXT: Final = b"handover/seal/v1/wrap\x00"
_DATA_CONTEXT: Final = b"handover/seal/v1/data\x00"


class SealingError(Exception):
    """Base class: a secret could not be sealed or unsealed."""


class MasterKeyError(SealingError):
    """The master key file is missing, malformed or readable by others."""


class UnknownKeyError(SealingError):
    """The sealed secret names a master key that is not in the keyring."""


class UnsealError(SealingError):
    """Authentication failed: wrong master key, wrong AAD (another package) or tampered data."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes = field(repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MasterKeyError(f"a master key has {KEY_BYTES} bytes, got {len(self.key)}")
        # Domain-separated so the id is not the plain SHA-256 of the key.
        object.__setattr__(self, "key_id", hashlib.sha256(b"handover-master-key\x00" + self.key).hexdigest()[:16])


def create_master_key(path: Path) -> MasterKey:
    """Write a new random master key to ``path`` (mode 0600); refuses to overwrite an existing file."""
    key = MasterKey(secrets.token_bytes(KEY_BYTES))
    write_atomic(path, key.key, exclusive=True)
    return key


def load_master_key(path: Path) -> MasterKey:
    """Read a master key file; refuse one that the group or others may read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise MasterKeyError(f"cannot open master key file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyError(f"master key {path} is not a regular file")
        if info.st_mode & 0o077:
            raise MasterKeyError(
                f"master key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                f"it must not be accessible to group or others (run: chmod 600 {path})"
            )
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise MasterKeyError(f"master key file {path} must hold exactly {KEY_BYTES} bytes")
    return MasterKey(data)


class Keyring:
    """Master keys by id: ``current`` seals new secrets, all of them unseal."""

    def __init__(self, current: MasterKey, older: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self._keys = {key.key_id: key for key in (*older, current)}

    @classmethod
    def load(cls, current: Path, older: Iterable[Path] = ()) -> Keyring:
        return cls(load_master_key(current), [load_master_key(path) for path in older])

    def get(self, key_id: str) -> MasterKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"master key {key_id} is not in the keyring") from None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)


@dataclass(frozen=True)
class SealedSecret:
    key_id: str
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        fields = (self.key_id.encode("ascii"), self.wrap_nonce, self.wrapped_key, self.nonce, self.ciphertext)
        return bytes((_FORMAT_VERSION,)) + b"".join(struct.pack(">I", len(f)) + f for f in fields)

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedSecret:
        if not data or data[0] != _FORMAT_VERSION:
            raise SealingError("unknown sealed-secret format")
        fields: list[bytes] = []
        pos = 1
        for _ in range(5):
            if pos + 4 > len(data):
                raise SealingError("truncated sealed secret")
            (length,) = struct.unpack_from(">I", data, pos)
            pos += 4
            if pos + length > len(data):
                raise SealingError("truncated sealed secret")
            fields.append(data[pos : pos + length])
            pos += length
        if pos != len(data):
            raise SealingError("trailing bytes after sealed secret")
        key_id, wrap_nonce, wrapped_key, nonce, ciphertext = fields
        return cls(key_id.decode("ascii"), wrap_nonce, wrapped_key, nonce, ciphertext)


def _wrap_aad(key_id: str, aad: bytes) -> bytes:
    return _WRAP_CONTEXT + key_id.encode("ascii") + b"\x00" + aad


def _wrap(master: MasterKey, data_key: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce, AESGCM(master.key).encrypt(nonce, data_key, _wrap_aad(master.key_id, aad))


def _unwrap(keyring: Keyring, sealed: SealedSecret, aad: bytes) -> bytes:
    master = keyring.get(sealed.key_id)
    try:
        return AESGCM(master.key).decrypt(sealed.wrap_nonce, sealed.wrapped_key, _wrap_aad(master.key_id, aad))
    except InvalidTag:
        raise UnsealError("cannot unwrap the data key (wrong AAD or tampered secret)") from None


def seal(master: MasterKey, plaintext: bytes, aad: bytes) -> SealedSecret:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``master``; ``aad`` must match on unseal."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _DATA_CONTEXT + aad)
    wrap_nonce, wrapped = _wrap(master, data_key, aad)
    return SealedSecret(master.key_id, wrap_nonce, wrapped, nonce, ciphertext)


def unseal(keyring: Keyring, sealed: SealedSecret, aad: bytes) -> bytes:
    """Decrypt a sealed secret with whichever master key it names; raises UnsealError on any mismatch."""
    data_key = _unwrap(keyring, sealed, aad)
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, _DATA_CONTEXT + aad)
    except InvalidTag:
        raise UnsealError("cannot decrypt the sealed secret (wrong AAD or tampered secret)") from None


def rewrap(keyring: Keyring, sealed: SealedSecret, aad: bytes) -> SealedSecret:
    """Re-wrap the data key under ``keyring.current`` (key rotation); the ciphertext stays as it is."""
    data_key = _unwrap(keyring, sealed, aad)
    wrap_nonce, wrapped = _wrap(keyring.current, data_key, aad)
    return SealedSecret(keyring.current.key_id, wrap_nonce, wrapped, sealed.nonce, sealed.ciphertext)
