"""Per-package ZIP passwords.

They are read off a printed notice or over the phone and typed by hand, so the alphabet leaves out characters
that are easily confused (0/O/o, 1/l/I/i) and anything a keyboard layout or 7-Zip's prompt could mangle.
"""

from __future__ import annotations

import secrets
from typing import Final

ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz"
MIN_LENGTH: Final = 20
DEFAULT_LENGTH: Final = 24


def new_package_password(length: int = DEFAULT_LENGTH) -> str:
    """A random password of ``length`` characters (at least 20: about 116 bits)."""
    if length < MIN_LENGTH:
        raise ValueError(f"package passwords must have at least {MIN_LENGTH} characters")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
