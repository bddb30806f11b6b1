"""Field types the API's models share.

`UtcDatetime`: the database keeps timestamps without a zone, in UTC; the API says so, as RFC 3339
(OpenAPI's date-time) requires an offset. `StoredText`: text Postgres can store; it refuses NUL,
which would otherwise fail inside the database as a 500 instead of a 422, and says so in the
OpenAPI document (a pattern), so that no schema-valid request is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# The pattern tells clients (and schema-driven fuzzers) what the validator enforces.
StoredText = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": r"^[^\u0000]*$"})]
