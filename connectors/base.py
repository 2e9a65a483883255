"""The one interface every delivery endpoint implements (local folder, Box, SFTP, DVD media).

Connectors know nothing of the database or the hub's flow: they move an already-encrypted package file to an
endpoint, prove it arrived intact, manage who may reach it there, and delete it with confirmation.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from ledger.jurisdiction import is_domestic

AccessRole = Literal["viewer", "editor"]


@dataclass(frozen=True)
class Jurisdiction:
    """Where the endpoint keeps data (C-14): ``country`` is an ISO code such as ``jp``."""

    country: str
    region: str

    @property
    def is_japan(self) -> bool:
        return is_domestic(self.country)


@dataclass(frozen=True)
class StoredObject:
    """Where a package landed: ``location`` is the connector's own address (path, Box file id, ISO path)."""

    connector: str
    folder: str
    name: str
    location: str
    size: int
    sha256: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Grantee:
    """A designated person who may reach a folder at the endpoint (e-mail for Box, login for SFTP)."""

    person_id: str
    login: str


@dataclass(frozen=True)
class HealthReport:
    reachable: bool
    authenticated: bool
    detail: str


class ConnectorError(Exception):
    """A failure staff can read. ``retryable`` tells the delivery queue whether trying again may help.

    ``may_be_stored`` marks an unknown outcome: the endpoint may have kept the object although no answer said so
    (the connection died after the last byte, or while the final rename or commit was on its way). Before the
    queue uploads again or falls back, it asks the connector (``locate``) whether the object is there.
    """

    def __init__(self, reason_ja: str, *, retryable: bool, may_be_stored: bool = False) -> None:
        super().__init__(reason_ja)
        self.reason_ja = reason_ja
        self.retryable = retryable
        self.may_be_stored = may_be_stored


class VerificationError(ConnectorError):
    """The endpoint holds something other than what was sent."""

    def __init__(self, reason_ja: str) -> None:
        super().__init__(reason_ja, retryable=True)


class Connector(abc.ABC):
    """One configured endpoint. Implementations must be safe to call again after a crash (idempotent put)."""

    kind: ClassVar[str]

    def __init__(self, name: str, jurisdiction: Jurisdiction) -> None:
        self.name = name
        self.jurisdiction = jurisdiction

    @abc.abstractmethod
    async def put(self, folder: str, name: str, source: Path, metadata: Mapping[str, str]) -> StoredObject:
        """Store the file at ``source`` as ``folder/name`` atomically; a retry after a crash must not duplicate."""

    @abc.abstractmethod
    async def verify(self, obj: StoredObject, *, size: int, sha256: str) -> None:
        """Raise VerificationError unless the stored object has this size and hash (where the endpoint can tell)."""

    @abc.abstractmethod
    async def grant(self, folder: str, people: Sequence[Grantee], role: AccessRole) -> None:
        """Let exactly these designated people reach ``folder`` with ``role``; idempotent."""

    @abc.abstractmethod
    async def revoke(self, folder: str, people: Sequence[Grantee]) -> None:
        """Remove these people's access to ``folder``; idempotent."""

    @abc.abstractmethod
    async def delete(self, obj: StoredObject) -> None:
        """Delete the object everywhere the endpoint keeps it (trash included); idempotent."""

    @abc.abstractmethod
    async def exists(self, obj: StoredObject) -> bool:
        """Whether the object can still be found, used to confirm a deletion."""

    @abc.abstractmethod
    async def locate(self, folder: str, name: str, expected: Path | None = None) -> StoredObject | None:
        """Where ``folder/name`` is stored at the endpoint, or None when nothing is there; changes nothing.

        Asked after an unknown outcome, and by retention for a copy whose address was never answered. With
        ``expected`` (the local file the object should hold), the result is ready for ``verify`` against it even
        where the endpoint reports another hash than SHA-256 (Box: SHA-1).
        """

    @abc.abstractmethod
    async def health(self) -> HealthReport:
        """Reachability and authentication, without changing anything."""

    async def close(self) -> None:  # noqa: B027 - most connectors hold nothing to release
        """Release network resources."""
