"""Turns validated connector settings into connector instances (secrets read here, at start, once)."""

from __future__ import annotations

from typing import Any

from connectors.base import Connector
from connectors.registry import build_connectors
from exchange.settings import ConnectorSettings, Settings


def _mapping(name: str, config: ConnectorSettings) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "name": name,
        "kind": config.kind,
        "jurisdiction": {"country": config.jurisdiction.country, "region": config.jurisdiction.region},
    }
    if config.kind == "local":
        mapping["root"] = config.root
    elif config.kind == "media":
        assert config.root is not None
        mapping["staging_root"] = config.root / "staging"
        mapping["image_root"] = config.root / "images"
    elif config.kind == "sftp":
        mapping.update(host=config.host, username=config.username, host_key=config.host_key)
        if config.port is not None:
            mapping["port"] = config.port
        if config.root is not None:
            mapping["root"] = str(config.root)
        if config.password is not None:
            mapping["password"] = config.password.read().get_secret_value()
        if config.private_key is not None:
            mapping["client_key"] = config.private_key.read().get_secret_value()
    elif config.kind == "box":
        assert config.client_secret is not None
        mapping.update(
            client_id=config.client_id,
            client_secret=config.client_secret.read().get_secret_value(),
            root_folder_id=config.root_folder_id,
        )
        if config.enterprise_id is not None:
            mapping["enterprise_id"] = config.enterprise_id
        if config.base_url is not None:
            mapping["base_url"] = config.base_url
    return mapping


def connectors_from_settings(settings: Settings) -> dict[str, Connector]:
    return build_connectors([_mapping(name, config) for name, config in settings.connectors.items()])
