"""The resilience settings that can change at runtime (POST /resilience/config), on every replica."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from ..settings import Settings
from .bounds import (
    BreakerTimeoutSeconds,
    BulkheadMaxConcurrent,
    BurstSize,
    FailureThreshold,
    HalfOpenMaxCalls,
    RequestsPerMinute,
    RetryBackoffFactor,
    RetryMaxAttempts,
)


class ResilienceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    circuit_breaker_enabled: bool
    circuit_breaker_failure_threshold: FailureThreshold
    circuit_breaker_timeout_seconds: BreakerTimeoutSeconds
    circuit_breaker_half_open_max_calls: HalfOpenMaxCalls
    rate_limit_enabled: bool
    rate_limit_requests_per_minute: RequestsPerMinute
    rate_limit_burst_size: BurstSize
    retry_max_attempts: RetryMaxAttempts
    retry_backoff_factor: RetryBackoffFactor
    bulkhead_max_concurrent: BulkheadMaxConcurrent

    @classmethod
    def from_settings(cls, settings: Settings) -> ResilienceConfig:
        return cls(**{name: getattr(settings, name) for name in cls.model_fields})


def _without_null(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    for name, prop in schema.get("properties", {}).items():
        choices = [choice for choice in prop.get("anyOf", []) if choice.get("type") != "null"]
        if len(choices) == 1:
            del prop["anyOf"]
            prop.update(choices[0])
        prop.pop("default", None)
        schema["properties"][name] = prop


class ResilienceConfigUpdate(BaseModel):
    """A partial change: only the fields given change. Validated as strictly as start-up settings,
    and strict about types: `"true"` or `1` is not a boolean here."""

    # An empty change is refused, and so is null: a setting left unchanged is left out. The
    # document says both (minProperties; no null in the properties' types).
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_without_null)

    circuit_breaker_enabled: bool | None = None
    circuit_breaker_failure_threshold: FailureThreshold | None = None
    circuit_breaker_timeout_seconds: BreakerTimeoutSeconds | None = None
    circuit_breaker_half_open_max_calls: HalfOpenMaxCalls | None = None
    rate_limit_enabled: bool | None = None
    rate_limit_requests_per_minute: RequestsPerMinute | None = None
    rate_limit_burst_size: BurstSize | None = None
    retry_max_attempts: RetryMaxAttempts | None = None
    retry_backoff_factor: RetryBackoffFactor | None = None
    bulkhead_max_concurrent: BulkheadMaxConcurrent | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError("null is not a value: leave the setting out to keep it")
        # The full config's annotation is the bare type: the bounds sit in its metadata.
        wanted = ResilienceConfig.model_fields[info.field_name or ""].annotation
        if isinstance(value, float) and value.is_integer() and wanted is int:
            return int(value)  # JSON Schema's integer includes 3.0; strict mode alone would not
        return value

    @model_validator(mode="after")
    def _something(self) -> ResilienceConfigUpdate:
        if not self.changes():
            raise ValueError("name at least one setting to change")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True)
