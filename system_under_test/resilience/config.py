"""The resilience settings that can change at runtime (POST /resilience/config), on every replica."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..settings import Settings


class ResilienceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    circuit_breaker_enabled: bool
    circuit_breaker_failure_threshold: int = Field(gt=0, le=10_000)
    circuit_breaker_timeout_seconds: float = Field(gt=0, le=86_400)
    circuit_breaker_half_open_max_calls: int = Field(gt=0, le=1_000)
    rate_limit_enabled: bool
    rate_limit_requests_per_minute: int = Field(gt=0, le=1_000_000)
    rate_limit_burst_size: int = Field(gt=0, le=1_000_000)
    retry_max_attempts: int = Field(gt=0, le=10)
    retry_backoff_factor: float = Field(ge=1, le=10)
    bulkhead_max_concurrent: int = Field(gt=0, le=10_000)

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
    circuit_breaker_failure_threshold: int | None = Field(default=None, gt=0, le=10_000)
    circuit_breaker_timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)
    circuit_breaker_half_open_max_calls: int | None = Field(default=None, gt=0, le=1_000)
    rate_limit_enabled: bool | None = None
    rate_limit_requests_per_minute: int | None = Field(default=None, gt=0, le=1_000_000)
    rate_limit_burst_size: int | None = Field(default=None, gt=0, le=1_000_000)
    retry_max_attempts: int | None = Field(default=None, gt=0, le=10)
    retry_backoff_factor: float | None = Field(default=None, ge=1, le=10)
    bulkhead_max_concurrent: int | None = Field(default=None, gt=0, le=10_000)

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError("null is not a value: leave the setting out to keep it")
        annotation = cls.model_fields[info.field_name or ""].annotation
        if isinstance(value, float) and value.is_integer() and int in get_args(annotation):
            return int(value)  # JSON Schema's integer includes 3.0; strict mode alone would not
        return value

    @model_validator(mode="after")
    def _something(self) -> ResilienceConfigUpdate:
        if not self.changes():
            raise ValueError("name at least one setting to change")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True)
