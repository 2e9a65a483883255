"""TOTP second factor (RFC 6238, 30-second steps, 6 digits) with sealed secrets and replay protection."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Final

import pyotp

from exchange.keys import sealing

STEP_SECONDS: Final = 30
# One step either side absorbs clock drift between the server and the person's authenticator.
DRIFT_STEPS: Final = 1
ISSUER: Final = "handover"


def new_secret() -> str:
    return pyotp.random_base32()


def secret_aad(account_public_id: str) -> bytes:
    """What a sealed TOTP secret is bound to: its account (a secret copied onto another account does not open)."""
    return b"totp:" + account_public_id.encode()


def seal_secret(keyring: sealing.Keyring, secret: str, account_public_id: str) -> bytes:
    return sealing.seal(keyring.current, secret.encode(), secret_aad(account_public_id)).to_bytes()


def unseal_secret(keyring: sealing.Keyring, sealed: bytes, account_public_id: str) -> str:
    return sealing.unseal(keyring, sealing.SealedSecret.from_bytes(sealed), secret_aad(account_public_id)).decode()


def matching_step(secret: str, code: str, now: datetime, *, after_step: int = 0) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than ``after_step`` (no replay)."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > after_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, login: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=login, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an authenticator by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
