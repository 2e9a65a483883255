"""Signed checkpoints in the C2SP ``tlog-checkpoint`` / ``signed-note`` formats, with Ed25519.

A note is the body (origin, tree size, base64 root hash, optional extension lines, each ending in ``\\n``), a
blank line, then one line per signature: ``— <key name> <base64(key id ‖ signature)>``. The key id is
``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``; the signature covers the body bytes.

The signing key lives in a file outside the database (a stolen database backup must not be able to re-sign a
rewritten log), in the one-line ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`` form that
golang.org/x/mod/sumdb/note also reads; the public half is exported as a ``vkey``:
``<name>+<hex key id>+<base64(0x01 ‖ public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.files import write_atomic

ED25519_ALG = b"\x01"
SIGNATURE_PREFIX = "— "
MAX_NOTE_SIZE = 64 * 1024
MAX_SIGNATURES = 100
_SKEY_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A note, key or key file is malformed, or no trusted signature on a note verifies."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not valid base64") from None


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_ALG + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519_ALG + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.private_key.public_key().public_bytes_raw())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def skey(self) -> str:
        seed = base64.b64encode(ED25519_ALG + self.private_key.private_bytes_raw()).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{seed}"

    @classmethod
    def from_skey(cls, skey: str) -> SigningKey:
        if not skey.startswith(_SKEY_PREFIX):
            raise NoteError("key file does not hold a PRIVATE+KEY line")
        name, _, rest = skey[len(_SKEY_PREFIX) :].strip().partition("+")
        id_hex, _, encoded = rest.partition("+")
        _check_name(name)
        raw = _b64decode(encoded, "private key")
        if len(raw) != 33 or raw[:1] != ED25519_ALG:
            raise NoteError("private key is not an Ed25519 key")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if id_hex != key.verifier.key_id.hex():
            raise NoteError("private key id does not match its name and key")
        return key


def write_key_file(path: Path, key: SigningKey) -> None:
    """Create ``path`` holding ``key``, readable by its owner only; never overwrite an existing key."""
    write_atomic(path, key.skey() + "\n", exclusive=True)


def generate_key_file(path: Path, name: str) -> SigningKey:
    key = SigningKey.generate(name)
    write_key_file(path, key)
    return key


def load_key_file(path: Path) -> SigningKey:
    """Read a signing key, refusing a file that others than its owner could read or change."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NoteError(f"{path} is accessible by group or others (mode {mode & 0o777:o}); chmod 600 it")
    return SigningKey.from_skey(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root_hash).decode("ascii")]
        for line in lines + list(self.extensions):
            if not line or "\n" in line:
                raise NoteError("checkpoint lines must be non-empty single lines")
        return "".join(line + "\n" for line in (*lines, *self.extensions))


def sign_note(checkpoint: Checkpoint, key: SigningKey) -> str:
    """The signed note for ``checkpoint``."""
    body = checkpoint.body()
    signature = key.verifier.key_id + key.sign(body.encode("utf-8"))
    return f"{body}\n{SIGNATURE_PREFIX}{key.name} {base64.b64encode(signature).decode('ascii')}\n"


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("a checkpoint needs an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise NoteError(f"tree size {size_text!r} is not a decimal number")
    root = _b64decode(root_text, "root hash")
    if len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def open_note(note: str, verifier: VerifierKey) -> Checkpoint:
    """Verify ``note`` against ``verifier`` and return its checkpoint; raise :class:`NoteError` otherwise.

    Signatures by other keys are allowed (a witness may cosign) but do not count: the note is accepted only
    if ``verifier``'s own signature is present and valid.
    """
    if len(note) > MAX_NOTE_SIZE:
        raise NoteError("note is too large")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note) or "\x7f" in note:
        raise NoteError("note holds control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("note has no blank line before its signatures")
    body, signature_lines = note[: split + 1], note[split + 2 : -1].split("\n")
    if "\n\n" in body or len(signature_lines) > MAX_SIGNATURES:
        raise NoteError("note body holds a blank line, or too many signatures")
    verified = False
    for line in signature_lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        _check_name(name)
        raw = _b64decode(encoded, "signature")
        if len(raw) < 5:
            raise NoteError("signature is too short")
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if not verifier.verify(body.encode("utf-8"), raw[4:]):
            raise NoteError(f"signature by {name} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"note carries no signature by {verifier.name}")
    return _parse_body(body)
