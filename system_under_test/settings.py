"""Every setting of the migration guide, read from the environment (and `.env`) once, at start-up."""

from __future__ import annotations

import base64
import ipaddress
import re
import sys
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import MultiHostUrl, Url
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .db.urls import async_database_url
from .resilience.bounds import (
    BreakerTimeoutSeconds,
    BulkheadMaxConcurrent,
    BurstSize,
    FailureThreshold,
    HalfOpenMaxCalls,
    RequestsPerMinute,
    RetryBackoffFactor,
    RetryMaxAttempts,
)

PostgresUrl = Annotated[
    MultiHostUrl,
    UrlConstraints(
        allowed_schemes=["postgresql", "postgres", "postgresql+asyncpg"],
        host_required=True,
    ),
]
RedisUrl = Annotated[Url, UrlConstraints(allowed_schemes=["redis", "rediss"], host_required=True)]

PositiveInt = Annotated[int, Field(gt=0)]
# A socket timeout beyond an hour is a mistake, and past ~1e9 seconds the OS refuses it outright.
TimeoutSeconds = Annotated[float, Field(gt=0, le=3600)]


class Settings(BaseSettings):
    """One class, one source of truth: field names are the guide's variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        # An infinite timeout or a NaN rate is never meant, and nothing downstream can use one.
        allow_inf_nan=False,
    )

    # Database and cache
    database_url: PostgresUrl
    database_pool_size: PositiveInt = 10
    database_timeout_seconds: TimeoutSeconds = 5.0
    redis_url: RedisUrl

    # Authentication
    jwt_secret: SecretStr
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # At most a year: far beyond that, the expiry date overflows and every login fails.
    jwt_expire_minutes: Annotated[int, Field(gt=0, le=525_600)] = 30

    # Pusher (required while PUSHER_ENABLED is true)
    pusher_app_id: str = ""
    pusher_key: str = ""
    pusher_secret: SecretStr = SecretStr("")
    pusher_cluster: str = "us2"
    pusher_enabled: bool = True
    # Not in the guide: where the HTTP API is when it is not Pusher's cloud (api-{cluster}.pusher.com),
    # e.g. a Pusher-compatible server; how long a publish may take; the key of encrypted channels.
    pusher_host: str | None = None
    pusher_port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    pusher_ssl: bool = True
    pusher_timeout_seconds: TimeoutSeconds = 2.0
    pusher_encryption_master_key_base64: SecretStr | None = None

    # Circuit breaker
    circuit_breaker_enabled: bool = True
    circuit_breaker_failure_threshold: FailureThreshold = 5
    circuit_breaker_timeout_seconds: BreakerTimeoutSeconds = 60
    circuit_breaker_half_open_max_calls: HalfOpenMaxCalls = 3

    # Rate limiting
    rate_limit_enabled: bool = True
    rate_limit_requests_per_minute: RequestsPerMinute = 100
    rate_limit_burst_size: BurstSize = 20
    # Peers whose X-Forwarded-For is believed (CIDRs, JSON list). Empty: nobody's.
    rate_limit_trusted_proxies: list[str] = []
    rate_limit_per_endpoint: bool = False

    # Retry and bulkhead
    retry_max_attempts: RetryMaxAttempts = 3
    retry_backoff_factor: RetryBackoffFactor = 2
    bulkhead_max_concurrent: BulkheadMaxConcurrent = 10

    # CORS
    cors_allowed_origins: list[str] = ["http://localhost:3000", "https://app.toolboxai.com"]
    cors_allow_credentials: bool = True
    cors_allowed_methods: list[str] = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]

    # Logging and request correlation
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    correlation_id_header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "X-Request-ID"

    # Monitoring
    sentry_dsn: SecretStr | None = None
    sentry_environment: str = "production"
    sentry_traces_sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.1
    metrics_enabled: bool = True

    # The AI content service the content endpoints call
    ai_service_url: AnyHttpUrl
    ai_service_timeout_seconds: TimeoutSeconds = 10.0

    # Hardening
    max_request_body_bytes: PositiveInt = 1_048_576
    # Not in the guide: how long a client may take to send its body (a slowloris holds a worker's
    # connection open by dripping it).
    request_body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # Not in the guide: a generation still `processing` this long after it started (or was last
    # retried) lost its request (a replica killed, the database cut) and is marked failed.
    content_job_timeout_seconds: Annotated[float, Field(gt=0, le=86400)] = 300.0
    # Not in the guide: the request head's size (request line and headers; 431 beyond it) and how
    # long it may take to arrive (408), enforced by the server protocol in http_limits.py.
    max_request_header_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = 32_768
    request_head_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HMAC keys shorter than the hash are weak)")
        return value

    @field_validator("sentry_dsn")
    @classmethod
    def _sentry_dsn_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"https?://[^@/\s]+@[^/\s]+/(.+/)?\d+", value.get_secret_value()
        ):
            raise ValueError("must look like https://<key>@<host>/<project id>")
        return value

    @field_validator("rate_limit_trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _no_wildcard_with_credentials(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"origin {origin!r} must start with http:// or https://")
        return value

    @field_validator("pusher_app_id")
    @classmethod
    def _digits(cls, value: str) -> str:
        if value and not value.isdigit():
            raise ValueError("must be digits (Pusher app ids are numbers)")
        return value

    @field_validator("pusher_encryption_master_key_base64")
    @classmethod
    def _thirty_two_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(value.get_secret_value(), validate=True)
            except ValueError:
                raise ValueError("must be base64") from None
            if len(key) != 32:
                raise ValueError(f"must decode to 32 bytes, not {len(key)}")
        return value

    @model_validator(mode="after")
    def _pusher_credentials(self) -> Settings:
        if self.pusher_enabled:
            missing = [
                name
                for name, value in (
                    ("PUSHER_APP_ID", self.pusher_app_id),
                    ("PUSHER_KEY", self.pusher_key),
                    ("PUSHER_SECRET", self.pusher_secret.get_secret_value()),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required while PUSHER_ENABLED is true")
        if self.cors_allow_credentials and "*" in self.cors_allowed_origins:
            raise ValueError("CORS_ALLOWED_ORIGINS: cannot contain '*' while CORS_ALLOW_CREDENTIALS is true")
        return self

    @property
    def async_database_url(self) -> str:
        """DATABASE_URL as SQLAlchemy's asyncpg dialect wants it."""
        return async_database_url(str(self.database_url))


def describe_settings_error(error: ValidationError | SettingsError) -> list[str]:
    """One line per bad variable, naming it the way the operator wrote it (upper case)."""
    if isinstance(error, SettingsError):
        # pydantic-settings names the field in quotes: error parsing value for field "cors_allowed_origins"
        text = str(error)
        field = text.split('"')[1] if text.count('"') >= 2 else ""
        name = field.upper() or "settings"
        cause = error.__cause__
        detail = f": {cause}" if cause else ""
        return [f"{name}: cannot parse the value{detail}"]
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]).upper()
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required but not set"
        lines.append(f"{location}: {message}" if location else message)
    return lines


def load_settings() -> Settings:
    """Settings from the environment, or one line per bad variable on stderr and exit status 2."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as error:
        for line in describe_settings_error(error):
            print(f"configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
