from __future__ import annotations

import pytest

from exchange.passwords.generate import ALPHABET, new_package_password


def test_alphabet_has_no_confusable_characters() -> None:
    assert not set("0Oo1lIi") & set(ALPHABET)
    assert ALPHABET.isascii() and ALPHABET.isalnum()
    assert len(set(ALPHABET)) == len(ALPHABET) >= 50


def test_passwords_are_long_random_and_from_the_alphabet() -> None:
    passwords = [new_package_password() for _ in range(200)]
    assert all(len(p) == 24 and set(p) <= set(ALPHABET) for p in passwords)
    assert len(set(passwords)) == 200
    assert set("".join(passwords)) == set(ALPHABET)  # 4800 draws leave no character out by chance
    assert len(new_package_password(32)) == 32


def test_short_passwords_are_refused() -> None:
    assert len(new_package_password(20)) == 20
    with pytest.raises(ValueError, match="at least 20"):
        new_package_password(19)
