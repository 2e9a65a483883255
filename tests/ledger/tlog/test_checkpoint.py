"""C2SP signed-note checkpoints: round trip, foreign keys, malformed notes, key files."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.tlog.checkpoint import (
    Checkpoint,
    NoteError,
    SigningKey,
    generate_key_file,
    key_id,
    load_key_file,
    open_note,
    sign_note,
)

ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = Checkpoint("handover.example/ledger", 42, ROOT)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate("handover.example")


def test_note_layout(key: SigningKey) -> None:
    note = sign_note(CHECKPOINT, key)
    body, signatures = note.split("\n\n")
    assert body == f"handover.example/ledger\n42\n{base64.b64encode(ROOT).decode()}"
    assert signatures.startswith("\u2014 handover.example ") and signatures.endswith("\n")
    raw = base64.b64decode(signatures.split(" ")[2])
    public = key.verifier.public_key
    assert raw[:4] == hashlib.sha256(b"handover.example\n\x01" + public).digest()[:4] == key_id(key.name, public)
    assert len(raw) == 4 + 64


def test_round_trip(key: SigningKey) -> None:
    assert open_note(sign_note(CHECKPOINT, key), key.verifier) == CHECKPOINT


def test_cosignatures_by_other_keys_are_ignored(key: SigningKey) -> None:
    witness = SigningKey.generate("witness.example")
    note = sign_note(CHECKPOINT, key)
    cosigned = note + sign_note(CHECKPOINT, witness).split("\n\n")[1]
    assert open_note(cosigned, key.verifier) == CHECKPOINT


def test_another_keys_signature_is_rejected(key: SigningKey) -> None:
    impostor = SigningKey.generate("handover.example")  # same name, different key
    with pytest.raises(NoteError, match=r"no signature by handover\.example"):
        open_note(sign_note(CHECKPOINT, impostor), key.verifier)


def test_altered_body_is_rejected(key: SigningKey) -> None:
    note = sign_note(CHECKPOINT, key).replace("\n42\n", "\n43\n")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note, key.verifier)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n[:-1], "no blank line"),
        (lambda n: n.replace("\u2014 ", "- "), "malformed signature line"),
        (lambda n: n.replace("\n\n", "\n\x07\n\n"), "control characters"),
        (lambda n: n.replace("\n42\n", "\n\n42\n"), "body holds a blank line"),
        (lambda n: n[: n.rindex(" ") + 1] + "not*base64\n", "not valid base64"),
        (lambda n: n[: n.rindex(" ") + 1] + "AAAA\n", "too short"),
        (lambda n: "x" * 70_000 + n, "too large"),
    ],
)
def test_malformed_notes(key: SigningKey, mangle: Callable[[str], str], message: str) -> None:
    with pytest.raises(NoteError, match=message):
        open_note(mangle(sign_note(CHECKPOINT, key)), key.verifier)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("origin\n42\n", "needs an origin"),
        ("origin\n042\n{root}\n", "not a decimal"),
        ("origin\n-1\n{root}\n", "not a decimal"),
        ("origin\n42\nAAAA\n", "not 32 bytes"),
    ],
)
def test_malformed_bodies_even_when_signed(key: SigningKey, body: str, message: str) -> None:
    text = body.format(root=base64.b64encode(ROOT).decode())
    signature = base64.b64encode(key.verifier.key_id + key.sign(text.encode())).decode()
    with pytest.raises(NoteError, match=message):
        open_note(f"{text}\n\u2014 {key.name} {signature}\n", key.verifier)


def test_extension_lines_are_kept(key: SigningKey) -> None:
    checkpoint = Checkpoint("o", 1, ROOT, ("ext one",))
    assert open_note(sign_note(checkpoint, key), key.verifier) == checkpoint


def test_vkey_format_and_key_names(key: SigningKey) -> None:
    vkey = key.verifier.vkey
    name, id_hex, encoded = vkey.split("+", 2)  # base64 may itself contain "+"
    assert (name, id_hex) == ("handover.example", key.verifier.key_id.hex())
    assert base64.b64decode(encoded) == b"\x01" + key.verifier.public_key
    with pytest.raises(NoteError, match="name"):
        SigningKey.generate("has space")


def test_key_file_is_private_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    key = generate_key_file(path, "handover.example")
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_key_file(path)
    assert loaded.verifier == key.verifier
    assert open_note(sign_note(CHECKPOINT, loaded), key.verifier) == CHECKPOINT
    with pytest.raises(FileExistsError):
        generate_key_file(path, "handover.example")
    os.chmod(path, 0o640)
    with pytest.raises(NoteError, match="chmod 600"):
        load_key_file(path)


def test_key_file_with_mismatched_id_is_rejected(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "ledger.key"
    path.write_text(key.skey().replace("handover.example", "renamed"))
    path.chmod(0o600)
    with pytest.raises(NoteError, match="id does not match"):
        load_key_file(path)
