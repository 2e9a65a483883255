from __future__ import annotations

from pathlib import Path

import pytest

from exchange.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_embedded_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config/hub.toml here: built-in defaults
    settings = load_settings()
    assert settings.database.url == "sqlite+aiosqlite:///./var/handover.db"
    assert settings.web.port == 8080


def test_the_shipped_configuration_is_valid() -> None:
    settings = load_settings(Path(__file__).parents[2] / "config" / "hub.toml")
    assert {"outbox", "dvd"} <= set(settings.connectors)


def test_unknown_key_is_an_error_naming_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[web]\nprot = 8080\n"))
    assert info.value.problems == ["web.prot: unknown key (check the spelling; unknown keys are not ignored)"]


def test_malformed_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[web\n"))
    assert "not valid TOML" in info.value.problems[0]


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_WEB__PORT", "9090")
    settings = load_settings(write(tmp_path, "[web]\nport = 8081\n"))
    assert settings.web.port == 9090


def test_missing_secret_file_is_named(tmp_path: Path) -> None:
    text = f"""
[connectors.printer]
kind = "sftp"
host = "127.0.0.1"
username = "u"
host_key = "ssh-ed25519 AAAA"
private_key = {{ file = "{tmp_path / "absent.key"}" }}
jurisdiction = {{ country = "jp", region = "lgwan" }}
"""
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert info.value.problems[0].startswith("connectors.printer.private_key: secret file")


def test_connector_outside_japan_refused(tmp_path: Path) -> None:
    text = """
[connectors.abroad]
kind = "local"
root = "x"
jurisdiction = { country = "us", region = "us-east-1" }
"""
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert "outside Japan" in info.value.problems[0]


def test_secret_value_is_not_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOX_SECRET", "very-secret-value")
    text = """
[connectors.box]
kind = "box"
client_id = "cid"
root_folder_id = "0"
client_secret = { env = "BOX_SECRET" }
jurisdiction = { country = "jp", region = "box-jp" }
"""
    settings = load_settings(write(tmp_path, text))
    secret = settings.connectors["box"].client_secret
    assert secret is not None
    assert secret.read().get_secret_value() == "very-secret-value"
    assert "very-secret-value" not in repr(settings) + str(secret.read())
