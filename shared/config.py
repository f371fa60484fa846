"""The one settings object.

Every value comes from a `JETDECK_*` environment variable; a secret may instead be read from
the file named by the same variable with `_FILE` appended. Parsing is strict ("yes" is not a
boolean) and a bad or missing value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from shared.netguard import parse_networks

_TRUE = {"true", "1", "on"}
_FALSE = {"false", "0", "off"}


def _strict_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true or false (also 1/0, on/off)")
    return value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


EnvBool = Annotated[bool, BeforeValidator(_strict_bool)]
# NoDecode: the value is comma-separated text, not JSON.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class ConfigError(Exception):
    """Start-up configuration is missing or malformed; the message names each variable."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


class _FileVariantSource(EnvSettingsSource):
    """Reads `<VAR>_FILE`: the value is the content of that file, trailing newline removed."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = f"{self.env_prefix}{field_name}".upper()
        path = os.environ.get(f"{name}_FILE")
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().rstrip("\n"), field_name, False
        except OSError as exc:
            raise ConfigError([f"{name}_FILE: cannot read {path!r}: {exc.strerror}"]) from exc


class _Section(BaseSettings):
    """One area of settings, read from `JETDECK_<AREA>_*` variables."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # An explicit value wins over a file variant, which wins over nothing.
        return (init_settings, env_settings, _FileVariantSource(settings_cls))


class AppSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_")
    env: Literal["production", "development", "test"] = "production"
    # Set by `jetdeck up`: keys were generated and kept in the data dir.
    embedded: EnvBool = False
    secret_key: str | None = Field(default=None, min_length=32)
    encryption_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path(".jetdeck")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cors_origins: CommaList = Field(default_factory=list)
    # Accounts and access (seconds unless named otherwise).
    access_token_ttl: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=300)
    invitation_ttl: int = Field(default=7 * 86400, ge=300)
    login_attempts_per_minute: int = Field(default=10, ge=1)
    # Proxies (CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed; none by default,
    # so a client cannot pick the IP its sign-in attempts are counted under.
    trusted_proxies: CommaList = Field(default_factory=list)
    # Who may create an organization through the API: `anyone` signed in, or `operators` only
    # (then `jetdeck orgs create` on the host is the way).
    org_creation: Literal["anyone", "operators"] = "anyone"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _cidrs(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("encryption_key")
    @classmethod
    def _fernet_key(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("expected a Fernet key: 32 bytes, url-safe base64 (44 characters)")
        return value


class DatabaseSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_DATABASE_")
    url: str | None = None
    pool_size: int = Field(default=10, ge=1)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError("expected a PostgreSQL URL: postgresql://user:password@host:5432/db")
        # One driver: asyncpg. Accept the plain URL a user copies from elsewhere.
        return "postgresql+asyncpg://" + value.split("://", 1)[1]


class RedisSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_REDIS_")
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in {"redis", "rediss", "unix"}:
            raise ValueError("expected a Redis URL: redis://host:6379/0")
        return value


class ClickHouseSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_CLICKHOUSE_")
    url: str | None = None
    database: str = Field(default="jetdeck", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @field_validator("url")
    @classmethod
    def _clickhouse_url(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in {"http", "https", "chdb"}:
            raise ValueError("expected http(s)://host:8123 or chdb:///path/to/data")
        return value


class NatsSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_NATS_")
    request_timeout: float = Field(default=5.0, gt=0)


class WorkerSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="JETDECK_")
    # `stub` keeps messages in memory: for unit tests only.
    broker: Literal["redis", "stub"] = "redis"
    worker_threads: int = Field(default=4, ge=1)
    collect_interval: int = Field(default=10, ge=1)
    # Seconds between purges of expired refresh tokens, web sessions and invitations.
    housekeeping_interval: int = Field(default=3600, ge=60)


def _cidrs(values: list[str]) -> list[str]:
    try:
        return [str(network) for network in parse_networks(values)]
    except ValueError as exc:
        raise ValueError(f"expected comma-separated CIDRs such as 10.0.0.0/8 ({exc})") from None


class ClusterSettings(_Section):
    """Where registered clusters may live (ARCHITECTURE.md decision 14). Link-local and cloud
    metadata addresses are refused always; `allowed_networks`, when set, narrows the rest."""

    model_config = SettingsConfigDict(env_prefix="JETDECK_CLUSTER_")
    allowed_networks: CommaList = Field(default_factory=list)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _cidrs(value)


class MetricsSettings(_Section):
    """Metrics history: retention of each resolution, collection bounds, /metrics access."""

    model_config = SettingsConfigDict(env_prefix="JETDECK_METRICS_")
    # Retention by TTL, in days: raw samples, 1-minute and 1-hour rollups.
    ttl_raw_days: int = Field(default=7, ge=1)
    ttl_1m_days: int = Field(default=90, ge=1)
    ttl_1h_days: int = Field(default=730, ge=1)
    # Age-of-first-unacked reads (one MSG.GET each) per cluster per cycle, largest backlog first.
    time_lag_reads: int = Field(default=100, ge=0)
    # The longest one JSZ round may take (it ends earlier once every server answered).
    jsz_timeout: float = Field(default=5.0, gt=0)
    # `GET /metrics` names every organization's clusters, so it is closed by default: it needs
    # `Authorization: Bearer <token>` when a token is set, and is open to anyone only when
    # `public` says so explicitly (a scrape from a trusted internal network).
    token: str | None = None
    public: EnvBool = False


class MessagesSettings(_Section):
    """Bounds on reading and tailing messages, whatever the payload size."""

    model_config = SettingsConfigDict(env_prefix="JETDECK_MESSAGES_")
    # Payload bytes one page (browse, search, backward) holds at most; a page stops there and
    # returns `next_seq` (it always holds at least one message).
    page_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # `max_bytes` of each batched direct get (browse, search, export, tail).
    batch_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Concurrent tails (SSE): per user, and per process; over either, 429.
    tails_per_user: int = Field(default=10, ge=1)
    tails_per_process: int = Field(default=1000, ge=1)
    # How often one shared poller reads a tailed stream, and how many messages a slow tail
    # subscriber may have waiting before the oldest are skipped (it is told how many).
    tail_poll_seconds: float = Field(default=0.25, gt=0)
    tail_queue: int = Field(default=256, ge=1)
    # The largest request body the API accepts (a publish of a 1 MB payload as base64 fits).
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)


class NotifySettings(_Section):
    """Alert notifications: outbound safety, retries, and the third-party endpoints."""

    model_config = SettingsConfigDict(env_prefix="JETDECK_NOTIFY_")
    # Loopback, private, link-local and metadata addresses are refused unless this is true.
    allow_private_networks: EnvBool = False
    # Seconds for each outbound call (connect, read, write, pool).
    timeout: float = Field(default=10.0, gt=0, le=120)
    # The first retry waits about this long; each next one twice as long (with jitter).
    retry_base_seconds: float = Field(default=30.0, gt=0)
    # Attempts per notification, the first included (7: six retries over about 30 minutes).
    max_attempts: int = Field(default=7, ge=1, le=20)
    # A delivery still "sending" this long after its claim was lost with its worker.
    stale_after_seconds: int = Field(default=120, ge=10)
    # Seconds between the scheduler's sweeps of the outbox (stale claims, lost messages).
    sweep_interval: int = Field(default=15, ge=1)
    # Transient failures in a row that open a channel's circuit, and for how long.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_seconds: int = Field(default=300, ge=1)
    # Alerts listed by name in one grouped message; the rest are counted.
    group_list_limit: int = Field(default=20, ge=1, le=200)
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    telegram_api_url: str = "https://api.telegram.org"
    # Where links in notifications point (the web console); default http://<host>:<port>.
    console_url: str | None = None

    @field_validator("pagerduty_url", "telegram_api_url", "console_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in {"http", "https"}:
            raise ValueError("expected an http(s):// URL")
        return value.rstrip("/") if value else value


class SmtpSettings(_Section):
    """The SMTP server email notifications go through."""

    model_config = SettingsConfigDict(env_prefix="JETDECK_SMTP_")
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    from_address: str = "jetdeck@localhost"
    # "starttls" upgrades a plain connection (port 587), "tls" is TLS from the start (465).
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout: float = Field(default=10.0, gt=0, le=120)


class Settings(BaseModel):
    app: AppSettings
    database: DatabaseSettings
    redis: RedisSettings
    clickhouse: ClickHouseSettings
    nats: NatsSettings
    workers: WorkerSettings
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    messages: MessagesSettings = Field(default_factory=MessagesSettings)
    clusters: ClusterSettings = Field(default_factory=ClusterSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    _sections: ClassVar[dict[str, type[_Section]]] = {
        "app": AppSettings,
        "database": DatabaseSettings,
        "redis": RedisSettings,
        "clickhouse": ClickHouseSettings,
        "nats": NatsSettings,
        "workers": WorkerSettings,
        "metrics": MetricsSettings,
        "messages": MessagesSettings,
        "clusters": ClusterSettings,
        "notify": NotifySettings,
        "smtp": SmtpSettings,
    }

    def require(self, *names: str) -> Settings:
        """Fail fast unless the named services are configured (`database`, `redis`, ...)."""
        missing = {
            "database": ("JETDECK_DATABASE_URL", self.database.url),
            "redis": ("JETDECK_REDIS_URL", self.redis.url),
            "clickhouse": ("JETDECK_CLICKHOUSE_URL", self.clickhouse.url),
        }
        problems = [f"{var}: required, not set" for n in names for var, v in [missing[n]] if not v]
        if problems:
            raise ConfigError(problems)
        return self


def _describe(section: type[_Section], error: ValidationError) -> list[str]:
    prefix = section.model_config.get("env_prefix", "")
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        message = item["msg"].removeprefix("Value error, ")
        # Keys and URLs (which may carry a password) are never echoed back.
        secret = field.endswith("key") or field in {"url", "password"}
        shown = "value hidden" if secret else f"got {item.get('input')!r}"
        problems.append(f"{prefix}{field}".upper() + f": {message} ({shown})")
    return problems


def load_settings() -> Settings:
    """Read every section from the environment; raise ConfigError naming every bad variable."""
    problems: list[str] = []
    sections: dict[str, _Section] = {}
    for name, section in Settings._sections.items():
        try:
            sections[name] = section()
        except ValidationError as exc:
            problems.extend(_describe(section, exc))
        except SettingsError as exc:
            if not isinstance(exc.__cause__, ConfigError):
                raise
            problems.extend(exc.__cause__.problems)
    if problems:
        raise ConfigError(problems)
    settings = Settings(**sections)  # type: ignore[arg-type]
    app = settings.app
    if app.env == "production" and not app.embedded:
        for var, value in (
            ("JETDECK_SECRET_KEY", app.secret_key),
            ("JETDECK_ENCRYPTION_KEY", app.encryption_key),
        ):
            if not value:
                problems.append(f"{var}: required in production (or set {var}_FILE)")
    if problems:
        raise ConfigError(problems)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
