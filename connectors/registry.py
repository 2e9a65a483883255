"""Build connectors from plain configuration mappings, refusing endpoints outside Japan (C-14).

A mapping names the connector, its ``kind`` and its ``jurisdiction``; every other key is passed to the
connector's constructor as a keyword argument (secrets already resolved by the caller)::

    {"name": "outbox", "kind": "local", "jurisdiction": {"country": "jp", "region": "tokyo"},
     "root": "var/outbox"}

Modules are imported only when their kind is configured, so a hub without SFTP never loads asyncssh.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import Connector, Jurisdiction

# An allowlist: configuration must not be able to import arbitrary modules.
KIND_MODULES: Mapping[str, str] = {
    "local": "connectors.local",
    "sftp": "connectors.sftp",
    "media": "connectors.media",
    "box": "connectors.box",
}
_RESERVED = frozenset({"name", "kind", "jurisdiction"})


class ConnectorConfigError(ValueError):
    """A connector configuration the hub must not start with."""


def connector_class(kind: str) -> type[Connector]:
    module_name = KIND_MODULES.get(kind)
    if module_name is None:
        raise ConnectorConfigError(
            f"接続先の種類「{kind}」は不明です。unknown connector kind {kind!r}; known: {sorted(KIND_MODULES)}"
        )
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Connector)
            and value.__module__ == module_name
            and getattr(value, "kind", None) == kind
        ):
            return value
    raise ConnectorConfigError(f"{module_name} defines no connector of kind {kind!r}")


def _jurisdiction(name: str, value: object) -> Jurisdiction:
    if isinstance(value, Jurisdiction):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("country"), str):
        return Jurisdiction(country=value["country"], region=str(value.get("region", "")))
    raise ConnectorConfigError(
        f"接続先「{name}」に法域（jurisdiction: country, region）が設定されていません（C-14）。"
        f"connector {name!r}: jurisdiction must be given as {{country, region}}"
    )


def check_jurisdiction(name: str, kind: str, jurisdiction: Jurisdiction) -> None:
    if not jurisdiction.is_japan:
        raise ConnectorConfigError(
            f"接続先「{name}」（{kind}）は国内法が適用されない法域（{jurisdiction.country}/{jurisdiction.region}）"
            f"にあるため使用できません（C-14）。connector {name!r} ({kind}) declares jurisdiction "
            f"{jurisdiction.country!r}; only 'jp' is allowed"
        )


def build_connector(config: Mapping[str, Any]) -> Connector:
    """One connector from one mapping; raises ConnectorConfigError naming the connector on any problem."""
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise ConnectorConfigError("接続先の設定に name がありません。connector config needs a name")
    kind = config.get("kind")
    if not isinstance(kind, str):
        raise ConnectorConfigError(f"接続先「{name}」に kind がありません。connector {name!r} needs a kind")
    jurisdiction = _jurisdiction(name, config.get("jurisdiction"))
    check_jurisdiction(name, kind, jurisdiction)
    cls = connector_class(kind)
    options = {key: value for key, value in config.items() if key not in _RESERVED}
    try:
        connector = cls(name, jurisdiction, **options)
    except (TypeError, ValueError) as exc:
        raise ConnectorConfigError(
            f"接続先「{name}」（{kind}）の設定が正しくありません。invalid configuration for connector {name!r}: {exc}"
        ) from exc
    return connector


def build_connectors(configs: Iterable[Mapping[str, Any]]) -> dict[str, Connector]:
    """All configured connectors by name; names must be unique because stored objects refer to them."""
    connectors: dict[str, Connector] = {}
    for config in configs:
        connector = build_connector(config)
        if connector.name in connectors:
            raise ConnectorConfigError(
                f"接続先の名前「{connector.name}」が重複しています。duplicate connector name {connector.name!r}"
            )
        connectors[connector.name] = connector
    return connectors
