"""Every value the settings accept works: the runtime parts built from them never refuse it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

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

# Ordinary values, the bounds and just past them, anything at all, and floats that are no number.
EDGES = [-1, 0, 1, 10, 11, 1_000, 1_001, 10_000, 10_001, 525_600, 525_601, 10**6, 10**6 + 1]
integers = st.one_of(st.integers(1, 20), st.sampled_from(EDGES), st.integers(-(10**12), 10**12))
floats = st.one_of(
    st.floats(min_value=1, max_value=20),
    st.sampled_from([0.0, 1.0, 10.0, 10.5, 3600.0, 86_400.0, 86_400.5, math.inf, -math.inf, math.nan]),
    st.floats(allow_nan=True, allow_infinity=True),
)
# Each example sets some of the settings (the others keep their defaults), so that many are
# accepted and the property is about something.
values = st.fixed_dictionaries(
    {},
    optional={**{name: integers for name in INT_SETTINGS}, **{name: floats for name in FLOAT_SETTINGS}},
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


# Each setting's own bounds (its type and constraints), checked before the whole settings are
# built: most generated values are out of bounds, and building Settings (its sources) for each of
# those was nine tenths of this test's time. What passes is still built whole, with the model's
# own validators.
OWN_BOUNDS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(Annotated[(field.annotation, *field.metadata)])  # type: ignore[arg-type]
    for name, field in Settings.model_fields.items()
    if name in INT_SETTINGS + FLOAT_SETTINGS
}


def within_own_bounds(chosen: dict[str, Any]) -> bool:
    try:
        for name, value in chosen.items():
            OWN_BOUNDS[name].validate_python(value)
    except ValidationError:
        return False
    return True


@settings(max_examples=300)
@given(chosen=values)
def test_accepted_settings_build_the_runtime_config(required_env: None, chosen: dict[str, Any]) -> None:
    if not within_own_bounds(chosen):
        reject()  # Settings refuses it as well, on the same annotation
    try:
        accepted = Settings(_env_file=None, **chosen)
    except ValidationError:
        # Refused examples prove nothing here (the refusals have tests of their own); too many
        # of them fail hypothesis' health check instead of passing quietly.
        reject()
    build_runtime_config(accepted)
