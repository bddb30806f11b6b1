"""Settings: the guide's defaults, and one clear line per bad variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from golive.system_under_test.settings import Settings, describe_settings_error, load_settings
from tests.backend.conftest import REQUIRED_ENV


def load() -> Settings:
    return Settings()


def problems() -> list[str]:
    with pytest.raises((ValidationError, SettingsError)) as caught:
        load()
    assert isinstance(caught.value, ValidationError | SettingsError)
    return describe_settings_error(caught.value)


def test_defaults_are_the_guides(environment: pytest.MonkeyPatch) -> None:
    settings = load()
    assert settings.jwt_algorithm == "HS256"
    assert settings.jwt_expire_minutes == 30
    assert settings.pusher_cluster == "us2"
    assert settings.pusher_enabled is True
    assert settings.circuit_breaker_failure_threshold == 5
    assert settings.circuit_breaker_timeout_seconds == 60
    assert settings.circuit_breaker_half_open_max_calls == 3
    assert settings.rate_limit_requests_per_minute == 100
    assert settings.rate_limit_burst_size == 20
    assert settings.rate_limit_enabled is True
    assert settings.circuit_breaker_enabled is True
    assert settings.retry_max_attempts == 3
    assert settings.retry_backoff_factor == 2
    assert settings.bulkhead_max_concurrent == 10
    assert settings.cors_allowed_origins == ["http://localhost:3000", "https://app.toolboxai.com"]
    assert settings.cors_allow_credentials is True
    assert settings.cors_allowed_methods == ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    assert settings.log_level == "INFO"
    assert settings.log_format == "json"
    assert settings.correlation_id_header == "X-Request-ID"
    assert settings.sentry_environment == "production"
    assert settings.sentry_traces_sample_rate == 0.1
    assert settings.metrics_enabled is True


def test_values_come_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("RATE_LIMIT_REQUESTS_PER_MINUTE", "200")
    environment.setenv("CORS_ALLOWED_ORIGINS", '["https://a.example"]')
    environment.setenv("log_level", "debug")
    settings = load()
    assert settings.rate_limit_requests_per_minute == 200
    assert settings.cors_allowed_origins == ["https://a.example"]
    assert settings.log_level == "DEBUG"
    assert settings.async_database_url.startswith("postgresql+asyncpg://")


def test_dot_env_file_is_read(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.delenv("JWT_SECRET")
    (tmp_path / ".env").write_text("JWT_SECRET=" + "e" * 40 + "\n")
    assert load().jwt_secret.get_secret_value() == "e" * 40


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_missing_required_variable_is_named(environment: pytest.MonkeyPatch, missing: str) -> None:
    environment.delenv(missing)
    lines = problems()
    assert len(lines) == 1
    assert lines[0].startswith(missing)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "many"),
        ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "-1"),
        ("RATE_LIMIT_ENABLED", "perhaps"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://cache"),
        ("JWT_SECRET", "short"),
        ("JWT_ALGORITHM", "none"),
        ("LOG_FORMAT", "xml"),
        ("SENTRY_TRACES_SAMPLE_RATE", "1.5"),
        ("CORRELATION_ID_HEADER", "X Request"),
        ("AI_SERVICE_URL", "ftp://files"),
        ("SENTRY_DSN", "not-a-dsn"),
        ("SENTRY_DSN", "https://sentry.example/1"),
        ("PUSHER_APP_ID", "your-app-id"),
        ("PUSHER_PORT", "70000"),
        ("PUSHER_TIMEOUT_SECONDS", "0"),
        ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "not base64!"),
        ("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", "c2hvcnQ="),
    ],
)
def test_invalid_value_is_named_in_one_line(environment: pytest.MonkeyPatch, name: str, value: str) -> None:
    environment.setenv(name, value)
    lines = problems()
    assert len(lines) == 1
    assert lines[0].startswith(f"{name}:")
    assert "\n" not in lines[0]


def test_unparseable_list_is_named(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CORS_ALLOWED_ORIGINS", "[not json")
    lines = problems()
    assert lines == [lines[0]]
    assert lines[0].startswith("CORS_ALLOWED_ORIGINS:")


def test_pusher_credentials_are_required_only_while_enabled(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("PUSHER_KEY")
    assert "PUSHER_KEY" in problems()[0]
    environment.setenv("PUSHER_ENABLED", "false")
    assert load().pusher_enabled is False


def test_wildcard_origin_with_credentials_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CORS_ALLOWED_ORIGINS", '["*"]')
    assert "CORS_ALLOWED_ORIGINS" in problems()[0]


def test_secrets_are_not_in_the_settings_repr(environment: pytest.MonkeyPatch) -> None:
    text = repr(load())
    assert REQUIRED_ENV["JWT_SECRET"] not in text
    assert REQUIRED_ENV["PUSHER_SECRET"] not in text


def test_the_server_refuses_to_start_with_one_clear_line(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "soon")
    environment.delenv("REDIS_URL")
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "golive.system_under_test.main:app", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert sorted(errors) == [
        "configuration error: CIRCUIT_BREAKER_TIMEOUT_SECONDS: "
        "Input should be a valid number, unable to parse string as a number",
        "configuration error: REDIS_URL: required but not set",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETRY_MAX_ATTEMPTS", "11"),
        ("RATE_LIMIT_BURST_SIZE", "2000000"),
        ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "inf"),
        ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "nan"),
        ("RETRY_BACKOFF_FACTOR", "inf"),
        ("JWT_EXPIRE_MINUTES", "9999999999"),
        ("DATABASE_TIMEOUT_SECONDS", "inf"),
        ("PUSHER_TIMEOUT_SECONDS", "nan"),
        ("AI_SERVICE_TIMEOUT_SECONDS", "infinity"),
        ("SENTRY_TRACES_SAMPLE_RATE", "nan"),
    ],
)
def test_out_of_bounds_values_are_refused_before_start_up(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    environment.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"configuration error: {name}: ")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETRY_MAX_ATTEMPTS", "11"),
        ("RATE_LIMIT_BURST_SIZE", "2000000"),
        ("CIRCUIT_BREAKER_TIMEOUT_SECONDS", "inf"),
    ],
)
def test_a_value_the_runtime_config_refuses_stops_the_server_with_one_line(
    environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    environment.setenv(name, value)
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "golive.system_under_test.main:app", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"configuration error: {name}: ")
