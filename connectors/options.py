"""What a connector's configuration may say: the options base every kind extends, and secret references.

Each connector module defines its own options model (``kind`` as a literal, then that kind's keys) and says how
to build its connector from them; ``connectors/registry.py`` joins the models into one union keyed on ``kind``,
which the hub's settings use for ``connectors.NAME``. Unknown keys are errors, as everywhere in the settings.

Secrets never appear in the configuration itself, only a ``SecretRef`` naming where they are. The type lives
here, not in ``exchange``, because connectors are its first users and must not import the hub; the hub's own
settings (the SMTP password) reuse it from here, which keeps every import pointing from ``exchange`` to
``connectors``. A reference is read when its connector is built, once at start, and the value goes straight to
the connector's constructor: no options model, repr or log line ever holds it.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from connectors.base import Connector, Jurisdiction
from ledger.jurisdiction import DOMESTIC


class SecretMissing(Exception):
    """A secret named in the configuration is not where the configuration says."""


class SecretRef(BaseModel):
    """Where a secret comes from: an environment variable or a file (first line, trailing newline dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("name exactly one of 'env' or 'file'")
        return self

    def read(self) -> SecretStr:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretMissing(f"environment variable {self.env} is not set")
            return SecretStr(value)
        assert self.file is not None
        try:
            return SecretStr(self.file.read_text(encoding="utf-8").rstrip("\n"))
        except OSError as exc:
            raise SecretMissing(f"secret file {self.file} cannot be read: {exc.strerror}") from None


class JurisdictionOptions(BaseModel):
    """Where the endpoint keeps data (C-14), as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = DOMESTIC
    region: str

    def value(self) -> Jurisdiction:
        return Jurisdiction(country=self.country, region=self.region)


class ConnectorOptions(BaseModel, abc.ABC):
    """One endpoint's configuration. Subclasses narrow ``kind`` to one literal and add that kind's keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    jurisdiction: JurisdictionOptions

    @abc.abstractmethod
    def build(self, name: str, jurisdiction: Jurisdiction) -> Connector:
        """The connector these options describe, its secrets read now; ``jurisdiction`` is already checked."""

    def local_folders(self) -> list[Path]:
        """Folders on the hub's own machine that ``handover init`` creates for this endpoint (none by default)."""
        return []
