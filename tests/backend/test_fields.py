"""Text fields tell clients what they refuse: a prompt with NUL (which Postgres cannot store) is
refused with a 422, and the OpenAPI document says so, so no schema-valid request is refused
(Schemathesis found `{"prompt": "Ö¹\\u0000"}`: valid by the schema, rejected by the app)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from golive.fixtures.openapi import openapi_document
from golive.system_under_test.fields import StoredText


class Sample(BaseModel):
    text: StoredText


def stored_text_properties() -> dict[str, dict[str, object]]:
    schemas = openapi_document()["components"]["schemas"]
    return {
        f"{schema}.{name}": prop
        for schema, body in schemas.items()
        for name, prop in body.get("properties", {}).items()
        if prop.get("pattern") == r"^[^\u0000]*$"
    }


def test_the_schema_of_stored_text_refuses_what_the_validator_refuses() -> None:
    found = stored_text_properties()
    assert "GenerateRequest.prompt" in found
    pattern = str(found["GenerateRequest.prompt"]["pattern"])
    assert re.fullmatch(pattern, "Ö¹\x00") is None
    assert re.fullmatch(pattern, "Ö¹ and a lesson on fractions") is not None
    with pytest.raises(ValidationError, match="must not contain NUL characters"):
        Sample(text="Ö¹\x00")
    assert Sample(text="Ö¹").text == "Ö¹"
