"""The connector kinds the hub knows, in one place, and building connectors from their validated options.

Each kind's module defines its options model (``kind`` plus that kind's keys) and how to build its connector;
``AnyConnectorOptions`` joins them into one union keyed on ``kind``, which the settings use for
``connectors.NAME``. Adding a kind is writing its module and adding its options model here. The union is also
the allowlist: configuration can only ever name these kinds, never import a module of its own choosing.

Connectors are refused when their endpoint is outside Japan (C-14).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from connectors.base import Connector, Jurisdiction
from connectors.box import BoxOptions
from connectors.local import LocalOptions
from connectors.media import MediaOptions
from connectors.options import ConnectorOptions, SecretMissing
from connectors.s3 import S3Options
from connectors.sftp import SftpOptions

AnyConnectorOptions = Annotated[
    LocalOptions | MediaOptions | SftpOptions | BoxOptions | S3Options, Field(discriminator="kind")
]


class ConnectorConfigError(ValueError):
    """A connector configuration the hub must not start with."""


def check_jurisdiction(name: str, kind: str, jurisdiction: Jurisdiction) -> None:
    if not jurisdiction.is_japan:
        raise ConnectorConfigError(
            f"接続先「{name}」（{kind}）は国内法が適用されない法域（{jurisdiction.country}/{jurisdiction.region}）"
            f"にあるため使用できません（C-14）。connector {name!r} ({kind}) declares jurisdiction "
            f"{jurisdiction.country!r}; only 'jp' is allowed"
        )


def build_connector(name: str, options: ConnectorOptions) -> Connector:
    """One connector, its secrets read now; raises ConnectorConfigError naming the connector on any problem."""
    jurisdiction = options.jurisdiction.value()
    check_jurisdiction(name, options.kind, jurisdiction)
    try:
        return options.build(name, jurisdiction)
    except (TypeError, ValueError, SecretMissing) as exc:
        raise ConnectorConfigError(
            f"接続先「{name}」（{options.kind}）の設定が正しくありません。"
            f"invalid configuration for connector {name!r}: {exc}"
        ) from exc


def build_connectors(options: Mapping[str, ConnectorOptions]) -> dict[str, Connector]:
    """Every configured connector by name, built once at start (names are unique: they are the settings' keys)."""
    return {name: build_connector(name, each) for name, each in options.items()}
