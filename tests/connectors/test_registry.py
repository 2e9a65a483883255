"""Connectors are built from plain mappings, and only with a Japanese jurisdiction (C-14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import Jurisdiction
from connectors.local import LocalConnector
from connectors.media import MediaConnector
from connectors.registry import ConnectorConfigError, build_connector, build_connectors
from connectors.sftp import SftpConnector
from tests.services.sshd import SshdServer

JP = {"country": "jp", "region": "tokyo"}


def test_builds_each_kind(tmp_path: Path, sshd_server: SshdServer) -> None:
    built = build_connectors(
        [
            {"name": "outbox", "kind": "local", "jurisdiction": JP, "root": str(tmp_path)},
            {
                "name": "lgwan-sftp",
                "kind": "sftp",
                "jurisdiction": Jurisdiction("JP", "osaka"),
                "host": sshd_server.host,
                "port": sshd_server.port,
                "username": sshd_server.username,
                "host_key": sshd_server.host_public_key,
                "client_key": sshd_server.client_private_key,
            },
            {"name": "dvd", "kind": "media", "jurisdiction": JP, "staging_root": tmp_path, "image_root": tmp_path},
        ]
    )
    assert isinstance(built["outbox"], LocalConnector) and built["outbox"].root == tmp_path
    assert isinstance(built["lgwan-sftp"], SftpConnector) and built["lgwan-sftp"].port == sshd_server.port
    assert isinstance(built["dvd"], MediaConnector)
    assert built["lgwan-sftp"].jurisdiction == Jurisdiction("JP", "osaka")


def test_box_kind_is_registered() -> None:
    from connectors.registry import connector_class

    assert connector_class("box").kind == "box"


@pytest.mark.parametrize("country", ["us", "sg", ""])
def test_foreign_jurisdiction_refused_naming_the_connector(tmp_path: Path, country: str) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector(
            {
                "name": "us-bucket",
                "kind": "local",
                "jurisdiction": {"country": country, "region": "x"},
                "root": str(tmp_path),
            }
        )
    message = str(caught.value)
    assert "us-bucket" in message and "C-14" in message and "国内法" in message


def test_missing_jurisdiction_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="法域"):
        build_connector({"name": "outbox", "kind": "local", "root": str(tmp_path)})


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"kind": "local", "jurisdiction": JP}, "name"),
        ({"name": "x", "kind": "ftp", "jurisdiction": JP}, "ftp"),
        ({"name": "x", "kind": "local", "jurisdiction": JP, "rooot": "/tmp"}, "「x」"),
        ({"name": "x", "kind": "sftp", "jurisdiction": JP, "host": "h", "username": "u", "host_key": "k"}, "「x」"),
    ],
    ids=["no-name", "unknown-kind", "bad-option", "sftp-without-secret"],
)
def test_bad_configuration_is_refused(config: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConnectorConfigError, match=fragment):
        build_connector(config)


def test_duplicate_names_refused(tmp_path: Path) -> None:
    config = {"name": "outbox", "kind": "local", "jurisdiction": JP, "root": str(tmp_path)}
    with pytest.raises(ConnectorConfigError, match="重複"):
        build_connectors([config, config])
