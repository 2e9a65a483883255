"""Each kind's options come through one union keyed on ``kind``; connectors are built only in Japan (C-14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from connectors.base import Jurisdiction
from connectors.box import BoxConnector, BoxOptions
from connectors.local import LocalConnector, LocalOptions
from connectors.media import MediaConnector
from connectors.options import JurisdictionOptions, SecretRef
from connectors.registry import AnyConnectorOptions, ConnectorConfigError, build_connector, build_connectors
from connectors.sftp import SftpConnector, SftpOptions
from tests.services.sshd import SshdServer

JP = {"country": "jp", "region": "tokyo"}
OPTIONS = TypeAdapter(dict[str, AnyConnectorOptions])


def test_builds_each_kind(tmp_path: Path, sshd_server: SshdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_CLIENT_KEY", sshd_server.client_private_key)
    options = OPTIONS.validate_python(
        {
            "outbox": {"kind": "local", "jurisdiction": JP, "root": str(tmp_path)},
            "lgwan-sftp": {
                "kind": "sftp",
                "jurisdiction": {"country": "JP", "region": "osaka"},
                "host": sshd_server.host,
                "port": sshd_server.port,
                "username": sshd_server.username,
                "host_key": sshd_server.host_public_key,
                "private_key": {"env": "SFTP_CLIENT_KEY"},
            },
            "dvd": {"kind": "media", "jurisdiction": JP, "root": str(tmp_path)},
        }
    )
    built = build_connectors(options)
    assert isinstance(built["outbox"], LocalConnector) and built["outbox"].root == tmp_path
    assert isinstance(built["lgwan-sftp"], SftpConnector) and built["lgwan-sftp"].port == sshd_server.port
    assert isinstance(built["dvd"], MediaConnector)
    assert built["dvd"].staging_root == tmp_path / "staging" and built["dvd"].image_root == tmp_path / "images"
    assert built["lgwan-sftp"].jurisdiction == Jurisdiction("JP", "osaka")


async def test_box_kind_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOX_SECRET", "s")
    raw = {
        "kind": "box",
        "jurisdiction": JP,
        "client_id": "cid",
        "client_secret": {"env": "BOX_SECRET"},
        "enterprise_id": "eid",
        "root_folder_id": "0",
    }
    options = OPTIONS.validate_python({"box": raw})["box"]
    assert isinstance(options, BoxOptions)
    connector = build_connector("box", options)
    assert isinstance(connector, BoxConnector) and connector.kind == "box"
    await connector.close()


@pytest.mark.parametrize("country", ["us", "sg", ""])
def test_foreign_jurisdiction_refused_naming_the_connector(tmp_path: Path, country: str) -> None:
    options = LocalOptions(root=tmp_path, jurisdiction=JurisdictionOptions(country=country, region="x"))
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector("us-bucket", options)
    message = str(caught.value)
    assert "us-bucket" in message and "C-14" in message and "国内法" in message


def _sftp(host_key: str) -> SftpOptions:
    return SftpOptions(
        host="127.0.0.1",
        username="u",
        host_key=host_key,
        password=SecretRef(env="SFTP_PASSWORD"),
        jurisdiction=JurisdictionOptions(region="lgwan"),
    )


def test_unusable_options_are_refused_naming_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_PASSWORD", "pw-never-shown")
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector("x", _sftp("not a key"))
    assert "「x」" in str(caught.value) and "鍵" in str(caught.value)
    assert "pw-never-shown" not in str(caught.value)


def test_secret_gone_at_start_is_refused_naming_the_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFTP_PASSWORD", raising=False)
    with pytest.raises(ConnectorConfigError) as caught:
        build_connector("x", _sftp("ssh-ed25519 AAAA"))
    assert "「x」" in str(caught.value) and "SFTP_PASSWORD is not set" in str(caught.value)
