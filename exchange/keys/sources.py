"""Where the hub's keys come from (``[keys]`` in the settings): a file, or an environment variable.

A file is read as ``handover keys generate`` or ``handover init`` wrote it (a master key: 32 raw bytes; the
ledger signing key: one ``PRIVATE+KEY+…`` line) and refused when its group or others may read or write it. An
environment variable is how one key reaches every host of a hub without copying files: it holds a master key
as base64 (44 characters, ``base64 -w0 FILE``) or the signing key's ``PRIVATE+KEY+…`` line.

A key's value never appears in a message or a log line: errors name the settings key and where the key was looked
for, nothing read from it. Everything here reads files or the environment: call it off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from connectors.options import SecretRef
from exchange.keys.sealing import KEY_BYTES, Keyring, MasterKey, MasterKeyError, load_master_key
from exchange.settings import Settings
from ledger.tlog.checkpoint import SigningKey, load_key_file

MASTER: str = "keys.master"
SIGNING: str = "keys.signing"


class KeyUnavailable(Exception):
    """A configured key is missing or malformed; the message names the settings key, never the key's value."""


def where(name: str, ref: SecretRef) -> str:
    """Where a key comes from, for an operator's message (never its value)."""
    return f"{name} (environment variable {ref.env})" if ref.env is not None else f"{name} (file {ref.file})"


def _from_env(name: str, ref: SecretRef) -> str:
    assert ref.env is not None
    value = os.environ.get(ref.env, "").strip()
    if not value:
        raise KeyUnavailable(f"{where(name, ref)}: the variable is not set or empty")
    return value


def master_key(name: str, ref: SecretRef) -> MasterKey:
    """One master key; ``name`` is its settings key (``keys.master``, ``keys.old_masters[0]``) for messages."""
    if ref.file is not None:
        if not ref.file.exists():
            raise KeyUnavailable(
                f"{name}: the master key file {ref.file} does not exist; `handover init` creates the first one,"
                " `handover keys generate FILE` a new one"
            )
        try:
            return load_master_key(ref.file)
        except MasterKeyError as exc:
            raise KeyUnavailable(f"{name}: {exc}") from None
    try:
        raw = base64.b64decode(_from_env(name, ref), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyUnavailable(
            f"{where(name, ref)}: not a master key; it must hold {KEY_BYTES} bytes as base64 (44 characters,"
            " e.g. `base64 -w0 FILE` of a file from `handover keys generate FILE`)"
        )
    return MasterKey(raw)


def keyring(current: SecretRef, older: Sequence[SecretRef] = ()) -> Keyring:
    """The current master key (seals) and the older ones (only unseal what they sealed)."""
    return Keyring(
        master_key(MASTER, current), [master_key(f"keys.old_masters[{i}]", ref) for i, ref in enumerate(older)]
    )


def hub_keyring(settings: Settings) -> Keyring:
    return keyring(settings.master_key, settings.keys.old_masters)


def signing_key(ref: SecretRef) -> SigningKey:
    """The ledger's checkpoint signing key."""
    if ref.file is not None:
        try:
            return load_key_file(ref.file)
        except FileNotFoundError:
            raise KeyUnavailable(f"{SIGNING}: the file {ref.file} does not exist; run `handover init` first") from None
        except OSError as exc:
            raise KeyUnavailable(f"{SIGNING}: the file {ref.file} cannot be read: {exc.strerror}") from None
        except ValueError as exc:  # NoteError, or a file that is not UTF-8 text
            raise KeyUnavailable(f"{SIGNING}: the file {ref.file} does not hold a signing key: {exc}") from None
    try:
        return SigningKey.from_skey(_from_env(SIGNING, ref))
    except ValueError as exc:
        raise KeyUnavailable(f"{where(SIGNING, ref)}: not a ledger signing key: {exc}") from None
