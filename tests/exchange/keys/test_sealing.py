from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from exchange.keys.sealing import (
    Keyring,
    MasterKey,
    MasterKeyError,
    SealedSecret,
    SealingError,
    UnknownKeyError,
    UnsealError,
    create_master_key,
    load_master_key,
    rewrap,
    seal,
    unseal,
)

AAD = b"package:PKG-0001"


def test_round_trip_through_bytes() -> None:
    master = MasterKey(os.urandom(32))
    sealed = seal(master, b"Zy8kPq3mRt7vWx2nHj4bCd6f", AAD)
    assert b"Zy8kPq3m" not in sealed.to_bytes()
    restored = SealedSecret.from_bytes(sealed.to_bytes())
    assert restored == sealed
    assert unseal(Keyring(master), restored, AAD) == b"Zy8kPq3mRt7vWx2nHj4bCd6f"


def test_each_seal_uses_fresh_keys_and_nonces() -> None:
    master = MasterKey(os.urandom(32))
    first, second = seal(master, b"same", AAD), seal(master, b"same", AAD)
    assert first.ciphertext != second.ciphertext
    assert first.wrapped_key != second.wrapped_key


def test_secret_cannot_move_to_another_package() -> None:
    master = MasterKey(os.urandom(32))
    sealed = seal(master, b"secret", AAD)
    with pytest.raises(UnsealError):
        unseal(Keyring(master), sealed, b"package:PKG-0002")


def test_tampering_is_detected() -> None:
    master = MasterKey(os.urandom(32))
    sealed = seal(master, b"secret", AAD)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(UnsealError):
        unseal(Keyring(master), dataclasses.replace(sealed, ciphertext=flipped), AAD)
    other = seal(master, b"other", AAD)
    with pytest.raises(UnsealError):  # another secret's data key does not open this ciphertext
        unseal(Keyring(master), dataclasses.replace(sealed, wrapped_key=other.wrapped_key), AAD)


def test_rotation_with_two_keys() -> None:
    old, new = MasterKey(os.urandom(32)), MasterKey(os.urandom(32))
    assert old.key_id != new.key_id
    sealed_old = seal(old, b"old secret", AAD)
    keyring = Keyring(new, [old])
    assert keyring.key_ids == {old.key_id, new.key_id}
    assert unseal(keyring, sealed_old, AAD) == b"old secret"
    moved = rewrap(keyring, sealed_old, AAD)
    assert moved.key_id == new.key_id and moved.ciphertext == sealed_old.ciphertext
    assert unseal(Keyring(new), moved, AAD) == b"old secret"
    with pytest.raises(UnknownKeyError):
        unseal(Keyring(new), sealed_old, AAD)


def test_malformed_sealed_bytes_are_refused() -> None:
    good = seal(MasterKey(os.urandom(32)), b"x", AAD).to_bytes()
    for bad in (b"", b"\x09" + good[1:], good[:-1], good + b"\x00"):
        with pytest.raises(SealingError):
            SealedSecret.from_bytes(bad)


def test_master_key_file_is_private_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    created = create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == 32
    loaded = load_master_key(path)
    assert loaded == created
    assert created.key.hex() not in repr(created)
    with pytest.raises(FileExistsError):
        create_master_key(path)
    assert Keyring.load(path).current.key_id == created.key_id


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_group_or_world_accessible_key_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    create_master_key(path)
    path.chmod(mode)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(path)


def test_wrong_length_or_missing_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    path.write_bytes(b"x" * 31)
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="32 bytes"):
        load_master_key(path)
    with pytest.raises(MasterKeyError, match="cannot open"):
        load_master_key(tmp_path / "absent.key")
