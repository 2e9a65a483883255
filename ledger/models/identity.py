"""Sign-in records: invitations, second factors, login challenges and throttling, API tokens.

Secrets are never stored as such: one-time codes, API tokens and pending-login cookies are kept as SHA-256
hashes (they are long random strings, so a plain hash is enough), TOTP secrets are sealed with the master key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base, new_public_id, utcnow


class TotpFactor(Base):
    """An account's confirmed TOTP secret (sealed) and the last time step used, so a code works only once."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """A one-time code printed on a letter (C-22); the first use sets the password and the second factor."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    issued_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginChallenge(Base):
    """A half-finished login (password checked, second factor or first-time setup still to do).

    Kept apart from ``WebSession`` so that no page but the challenge's own accepts it.
    """

    __tablename__ = "login_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # 'verify' (TOTP) or 'setup' (password and TOTP)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The TOTP secret offered during setup, sealed; it becomes a TotpFactor only once a code confirms it.
    pending_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_ip: Mapped[str] = mapped_column(String(64))


class LoginAttempt(Base):
    """Every password, code or invitation attempt; lockout counts these, so every hub process agrees."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_account_at", "account_id", "at"),
        Index("ix_login_attempts_ip_at", "source_ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    source_ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """One lockout bucket (an account, or an address for sign-in or for the API) and its running failure count.

    An attempt is counted here before the secret is checked, by a compare-and-set on ``version``, so concurrent
    requests cannot all slip under the limit (``exchange.identity.lockout``).
    """

    __tablename__ = "login_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(120), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=0)
