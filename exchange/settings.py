"""The hub's settings: one typed object, validated once at start.

Sources, lowest to highest precedence: built-in defaults (the embedded mode), the TOML file, ``HANDOVER_*``
environment variables (nested keys with ``__``, e.g. ``HANDOVER_DATABASE__URL``). Secrets never live in the TOML
file itself: the file names an environment variable or a file that holds them (``SecretRef``). Each connector's
options are that connector's own model (``connectors/registry.py`` lists the kinds).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.options import SecretMissing, SecretRef
from connectors.registry import AnyConnectorOptions
from connectors.s3_objects import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    RetryMode,
    ServerSideEncryption,
    region_jurisdiction,
)
from exchange.roles import ALL_ROLES, Role
from ledger.jurisdiction import is_domestic

DEFAULT_CONFIG = Path("config/hub.toml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Strict):
    url: str = "sqlite+aiosqlite:///./var/handover.db"
    echo: bool = False

    @model_validator(mode="after")
    def _known_driver(self) -> DatabaseSettings:
        if not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return self


class WebSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str = "http://127.0.0.1:8080"
    # Contractors and the compliance officer always need a second factor; ward staff too unless a ward switches
    # it off here (``serve`` then logs a warning at every start, C-10).
    staff_totp_required: bool = True
    # Reverse proxies whose X-Forwarded-For is believed (CIDRs); empty: the peer address is the client.
    trusted_proxies: list[str] = []
    # Who may scrape /metrics (CIDRs, judged on the client address above); anyone else gets 404.
    metrics_allow: list[str] = ["127.0.0.1/32", "::1/128"]

    @model_validator(mode="after")
    def _tls_pair(self) -> WebSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @model_validator(mode="after")
    def _proxy_networks(self) -> WebSettings:
        for key in ("trusted_proxies", "metrics_allow"):
            for cidr in getattr(self, key):
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise ValueError(f"{key}: {cidr!r} is not an address or network (e.g. 127.0.0.1/32)") from None
        return self


class ServeSettings(Strict):
    # What ``handover serve`` runs when no ``--role`` is given (default: everything, one process).
    roles: list[Role] = Field(default_factory=lambda: list(ALL_ROLES), min_length=1)
    # How often each process writes its heartbeat row (``handover health`` reads them).
    heartbeat_seconds: float = Field(default=10.0, ge=0.5, le=300.0)


class LoggingSettings(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False


class IntakeSettings(Strict):
    quiet_seconds: float = Field(default=1.0, ge=0)
    rescan_seconds: float = Field(default=30.0, gt=0)
    workers: int = Field(default=2, ge=1, le=32)
    # A worker that dies (SIGKILL, power) leaves its row to the others once its lease ends: 15 s, renewed every
    # third of it while a step runs. At least 3 s, so that a renewal has time to be retried before the end.
    lease_seconds: float = Field(default=15.0, ge=3.0, le=3600.0)


class AntivirusSettings(Strict):
    """clamd's local socket; when set, every file is scanned before it moves and nothing moves while clamd is down."""

    clamd_socket: Path
    timeout_seconds: float = Field(default=120.0, gt=0)


class ProgramPluginSettings(Strict):
    plugins: list[str] | None = None
    settings: dict[str, Any] = {}


class PluginSettings(Strict):
    """Third-party benefit plugins: ``allow`` lists entry points that may load (None: all installed)."""

    allow: list[str] | None = None
    exclude: list[str] = []
    programs: dict[str, ProgramPluginSettings] = {}


class SmtpSettings(Strict):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "handover@localhost"
    username: str | None = None
    password: SecretRef | None = None
    starttls: bool = False


class LocalBlobSettings(Strict):
    """Blobs in a local folder (the embedded default): ``root``, or ``DATA_DIR/blobs`` when unset."""

    kind: Literal["local"] = "local"
    root: Path | None = None


class S3BlobSettings(Strict):
    """Blobs as objects in an S3 bucket (or an S3-compatible store at ``endpoint_url``), under ``prefix``.

    The bucket's region must be in Japan (C-14): ``ap-northeast-1`` (Tokyo) or ``ap-northeast-3`` (Osaka).
    Objects larger than ``part_size`` go up as multipart uploads of that part size (S3 allows at most 10,000
    parts, so the default 8 MiB serves objects up to 78 GiB). ``max_attempts`` and ``retry_mode`` are botocore's
    retries of throttling, 5xx answers and dropped connections, with exponential back-off.
    """

    kind: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    region: str
    endpoint_url: str | None = None
    access_key_id: SecretRef
    secret_access_key: SecretRef
    server_side_encryption: ServerSideEncryption | None = None
    kms_key_id: str | None = None
    part_size: int = Field(default=DEFAULT_PART_SIZE, ge=MIN_PART_SIZE, le=5 * 1024**3)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_mode: RetryMode = "standard"

    @field_validator("region")
    @classmethod
    def _japanese_region(cls, region: str) -> str:
        region_jurisdiction(region)  # raises ValueError naming the allowed regions
        return region

    @model_validator(mode="after")
    def _kms_key(self) -> S3BlobSettings:
        if self.kms_key_id is not None and self.server_side_encryption != "aws:kms":
            raise ValueError('kms_key_id goes with server_side_encryption = "aws:kms"')
        return self


class KeySettings(Strict):
    """Where the hub's keys come from: each a file (owner-only, as ``handover keys generate`` writes it) or an
    environment variable the operator sets on every host (a master key as base64, the signing key as its
    ``PRIVATE+KEY+…`` line). Unset: the files ``DATA_DIR/master.key`` and ``DATA_DIR/ledger-signing.key``."""

    master: SecretRef | None = None
    # Earlier master keys, kept so that what they sealed still opens (until ``handover keys rotate`` has moved
    # every sealed secret to ``master`` and every sealed file under them has been deleted).
    old_masters: list[SecretRef] = []
    signing: SecretRef | None = None


def _blob_kind(value: Any) -> str:
    """``[blobs]`` without ``kind`` is the local folder (so ``[blobs] root = "…"`` alone works)."""
    if isinstance(value, dict):
        return str(value.get("kind", "local"))
    return str(getattr(value, "kind", "local"))


class Settings(BaseSettings):
    """Everything the hub reads at start. Unknown keys are errors, so a typo never silently falls back."""

    model_config = SettingsConfigDict(env_prefix="HANDOVER_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Path("var")
    ledger_origin: str = "handover.local/ledger"
    database: DatabaseSettings = DatabaseSettings()
    keys: KeySettings = KeySettings()
    web: WebSettings = WebSettings()
    serve: ServeSettings = ServeSettings()
    logging: LoggingSettings = LoggingSettings()
    intake: IntakeSettings = IntakeSettings()
    smtp: SmtpSettings | None = None
    antivirus: AntivirusSettings | None = None
    plugins: PluginSettings = PluginSettings()
    connectors: dict[str, AnyConnectorOptions] = {}
    blobs: Annotated[
        Annotated[LocalBlobSettings, Tag("local")] | Annotated[S3BlobSettings, Tag("s3")],
        Discriminator(_blob_kind),
    ] = LocalBlobSettings()
    demo_dir: Path = Path("config/demo")

    @property
    def master_key(self) -> SecretRef:
        return self.keys.master or SecretRef(file=self.data_dir / "master.key")

    @property
    def signing_key(self) -> SecretRef:
        return self.keys.signing or SecretRef(file=self.data_dir / "ledger-signing.key")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init kwargs); no .env files: secrets stay where ops put them.
        return (env_settings, init_settings)


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` are plain-language lines naming each key's path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _key_path(loc: tuple[int | str, ...]) -> str:
    # Inside ``connectors.NAME`` pydantic names the union member (the value of ``kind``) as a path step of its
    # own; the file has no such key, so it is left out of the path the operator reads.
    if loc[:1] == ("connectors",) and len(loc) > 2:
        loc = loc[:2] + loc[3:]
    elif loc[:1] == ("blobs",) and len(loc) > 1:  # the same for ``blobs`` (a union keyed on ``kind`` too)
        loc = loc[:1] + loc[2:]
    return ".".join(str(part) for part in loc) or "(top level)"


def _explain(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        path = _key_path(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key (check the spelling; unknown keys are not ignored)")
        elif item["type"] == "value_error":
            lines.append(f"{path}: {item['ctx']['error']}")
        elif item["type"] == "missing":
            lines.append(f"{path}: required but missing")
        # A missing or unknown ``kind`` (the connectors' union key) is reported at the table; name the key itself.
        elif item["type"] == "union_tag_not_found":
            lines.append(f"{path}.kind: required but missing")
        elif item["type"] == "union_tag_invalid":
            lines.append(f"{path}.kind: '{item['ctx']['tag']}' is not one of {item['ctx']['expected_tags']}")
        else:
            lines.append(f"{path}: {item['msg']}")
    return lines


def load_settings(path: Path | None = None, *, check_secrets: bool = True) -> Settings:
    """Load and validate settings; raise ConfigError with every problem found.

    ``check_secrets=False`` is for commands that never open a connection (``ledger verify`` and its kin): they
    run where the connectors' secrets are deliberately absent, such as an auditor's copy of the database.
    """
    source = path if path is not None else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path is not None or DEFAULT_CONFIG.exists():
        try:
            with source.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(str(source), ["the configuration file does not exist"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(source), [f"not valid TOML: {exc}"]) from None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(str(source), _explain(exc)) from None
    problems = _cross_check(settings, check_secrets=check_secrets)
    if problems:
        raise ConfigError(str(source), problems)
    return settings


def _cross_check(settings: Settings, *, check_secrets: bool) -> list[str]:
    problems = []
    for name, connector in settings.connectors.items():
        if not is_domestic(connector.jurisdiction.country):
            problems.append(
                f"connectors.{name}.jurisdiction.country: '{connector.jurisdiction.country}' is outside Japan;"
                " personal data must stay under Japanese law (C-14)"
            )
    for path, ref in _secret_refs(settings, "") if check_secrets else ():
        try:
            ref.read()
        except SecretMissing as exc:
            problems.append(f"{path}: {exc}")
    return problems


def _secret_refs(value: object, path: str) -> Iterator[tuple[str, SecretRef]]:
    """Every secret reference in the settings with its key path, whichever model (or connector kind) holds it.

    The keys are left out: they are not text, and ``exchange.keys.sources`` reads and checks them where used."""
    if isinstance(value, KeySettings):
        return
    if isinstance(value, SecretRef):
        yield path, value
    elif isinstance(value, BaseModel):
        for key in type(value).model_fields:
            yield from _secret_refs(getattr(value, key), f"{path}.{key}" if path else key)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_refs(item, f"{path}.{key}")
