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


def test_the_intake_lease_is_short_and_not_shorter_than_a_heartbeat_can_keep(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "")).intake.lease_seconds == 15.0  # a killed worker's files resume soon
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[intake]\nlease_seconds = 1\n"))
    assert info.value.problems[0].startswith("intake.lease_seconds:")


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
enterprise_id = "eid"
root_folder_id = "0"
client_secret = { env = "BOX_SECRET" }
jurisdiction = { country = "jp", region = "box-jp" }
"""
    settings = load_settings(write(tmp_path, text))
    secret = settings.connectors["box"].client_secret
    assert secret is not None
    assert secret.read().get_secret_value() == "very-secret-value"
    assert "very-secret-value" not in repr(settings) + str(secret.read())


def test_missing_jurisdiction_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, '[connectors.outbox]\nkind = "local"\nroot = "x"\n'))
    assert info.value.problems == ["connectors.outbox.jurisdiction: required but missing"]


JP = 'jurisdiction = { country = "jp", region = "tokyo" }\n'


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("", "connectors.x.kind: required but missing"),
        ('kind = "ftp"\n', "connectors.x.kind: 'ftp' is not one of 'local', 'media', 'sftp', 'box', 's3'"),
        (
            'kind = "local"\nroot = "x"\nrooot = "/tmp"\n',
            "connectors.x.rooot: unknown key (check the spelling; unknown keys are not ignored)",
        ),
        (
            'kind = "sftp"\nhost = "h"\nusername = "u"\nhost_key = "k"\n',
            "connectors.x: an sftp connector needs password or private_key",
        ),
        (
            'kind = "sftp"\nusername = "u"\nhost_key = "k"\npassword = { env = "P" }\n',
            "connectors.x.host: required but missing",
        ),
        (
            'kind = "box"\nclient_id = "c"\nroot_folder_id = "0"\nclient_secret = { env = "S" }\n',
            "connectors.x.enterprise_id: required but missing",
        ),
    ],
    ids=["no-kind", "unknown-kind", "bad-option", "sftp-without-secret", "sftp-without-host", "box-without-enterprise"],
)
def test_each_kind_checks_its_own_options_by_path(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, f"[connectors.x]\n{table}{JP}"))
    assert info.value.problems == [problem]


def test_a_connector_name_is_given_once(tmp_path: Path) -> None:
    table = f'[connectors.outbox]\nkind = "local"\nroot = "x"\n{JP}'
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, table + table))
    assert "not valid TOML" in info.value.problems[0]


def test_serve_roles_default_to_all_and_an_unknown_one_is_named(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "")).serve.roles == ["web", "worker", "scheduler"]
    assert load_settings(write(tmp_path, '[serve]\nroles = ["worker"]\n')).serve.roles == ["worker"]
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, '[serve]\nroles = ["web", "mailer"]\n'))
    assert info.value.problems == ["serve.roles.1: Input should be 'web', 'worker' or 'scheduler'"]
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, "[serve]\nroles = []\n"))
