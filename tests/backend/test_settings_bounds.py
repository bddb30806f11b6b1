"""Every value the settings accept works: the runtime parts built from them never refuse it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from golive.system_under_test.resilience.config import ResilienceConfig, ResilienceConfigUpdate
from golive.system_under_test.security import Principal, Role, decode_token, issue_token
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

# Near the bounds, far past them, and the floats that are not numbers at all.
integers = st.one_of(st.integers(-2, 20), st.integers(-(10**12), 10**12), st.sampled_from([10**6, 10**6 + 1]))
floats = st.one_of(
    st.floats(min_value=-1, max_value=20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([86_400.0, 86_400.5, math.inf, -math.inf, math.nan]),
)
values = st.fixed_dictionaries(
    {**{name: integers for name in INT_SETTINGS}, **{name: floats for name in FLOAT_SETTINGS}}
)


@pytest.fixture(scope="module")
def required_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in REQUIRED_ENV.items():
            patch.setenv(name, value)
        yield


@settings(max_examples=300)
@given(chosen=values)
def test_accepted_settings_build_the_runtime_config(required_env: None, chosen: dict[str, Any]) -> None:
    try:
        accepted = Settings(_env_file=None, **chosen)  # type: ignore[call-arg]
    except ValidationError:
        return
    config = ResilienceConfig.from_settings(accepted)
    # What an admin reads from GET /resilience/config can be posted back unchanged.
    ResilienceConfigUpdate.model_validate(config.model_dump())
    token, lifetime = issue_token(accepted, Principal(1, "alice", Role.USER))
    assert decode_token(accepted, token).user_id == 1
    assert lifetime == accepted.jwt_expire_minutes * 60
