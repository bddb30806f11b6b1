"""Every value the settings accept works: the runtime parts built from them never refuse it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from golive.system_under_test.resilience.config import ResilienceConfig, ResilienceConfigUpdate
from golive.system_under_test.security import JwtConfig, Principal, Role, decode_token, issue_token
from golive.system_under_test.settings import Settings
from tests.backend.conftest import REQUIRED_ENV

INT_SETTINGS = (
    "circuit_breaker_failure_threshold",
    "circuit_breaker_half_open_max_calls",
    "rate_limit_requests_per_minute",
    "rate_limit_burst_size",
    "retry_max_attempts",
    "bulkhead_max_concurrent",
    "jwt_expire_minutes",
)
FLOAT_SETTINGS = ("circuit_breaker_timeout_seconds", "retry_backoff_factor")

# Each setting's own annotation (its type and its bounds, as pydantic declares them), which
# Hypothesis reads: every generated value is one the setting accepts, the bounds and their
# neighbours among them. Values past the bounds are refused before any runtime part sees them
# (tests/backend/test_settings.py), so generating them here would only be thrown away: it was most
# of this test's time.
OWN_BOUNDS: dict[str, Any] = {
    name: Annotated[(field.annotation, *field.metadata)]
    for name, field in Settings.model_fields.items()
    if name in INT_SETTINGS + FLOAT_SETTINGS
}
# Each example sets some of the settings (the others keep their defaults).
values: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {}, optional={name: st.from_type(bounded) for name, bounded in OWN_BOUNDS.items()}
)


@pytest.fixture(scope="module")
def required_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in REQUIRED_ENV.items():
            patch.setenv(name, value)
        yield


# The largest and smallest values each setting accepts.
LARGEST = {
    "circuit_breaker_failure_threshold": 10_000,
    "circuit_breaker_half_open_max_calls": 1_000,
    "rate_limit_requests_per_minute": 1_000_000,
    "rate_limit_burst_size": 1_000_000,
    "retry_max_attempts": 10,
    "bulkhead_max_concurrent": 10_000,
    "jwt_expire_minutes": 525_600,
    "circuit_breaker_timeout_seconds": 86_400.0,
    "retry_backoff_factor": 10.0,
}
SMALLEST = {
    **{name: 1 for name in INT_SETTINGS},
    "circuit_breaker_timeout_seconds": math.ulp(0.0),
    "retry_backoff_factor": 1.0,
}


def build_runtime_config(accepted: Settings) -> None:
    config = ResilienceConfig.from_settings(accepted)
    # What an admin reads from GET /resilience/config can be posted back unchanged.
    ResilienceConfigUpdate.model_validate(config.model_dump())
    jwt_config = JwtConfig.from_settings(accepted)
    token, lifetime = issue_token(jwt_config, Principal(1, "alice", Role.USER))
    assert decode_token(jwt_config, token).user_id == 1
    assert lifetime == accepted.jwt_expire_minutes * 60


@pytest.mark.parametrize("chosen", [LARGEST, SMALLEST], ids=["largest", "smallest"])
def test_the_bounds_themselves_build_the_runtime_config(required_env: None, chosen: dict[str, Any]) -> None:
    build_runtime_config(Settings(_env_file=None, **chosen))


@settings(max_examples=300)
@given(chosen=values)
def test_accepted_settings_build_the_runtime_config(required_env: None, chosen: dict[str, Any]) -> None:
    try:
        accepted = Settings(_env_file=None, **chosen)
    except ValidationError:
        # Each value is within its own bounds; a combination the model's own validators refuse
        # proves nothing here (the refusals have tests of their own).
        reject()
    build_runtime_config(accepted)
