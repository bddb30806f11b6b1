"""The one reading of pydantic's errors (golive/core/documents.py): where and what, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from golive.core.documents import first_problem, located_problem
from golive.fixtures.description import StackDescription, StackFileError


class Inner(BaseModel):
    port: int


class Outer(BaseModel):
    inner: Inner

    @model_validator(mode="after")
    def _odd(self) -> Outer:
        if self.inner.port % 2 == 0:
            raise ValueError("the port must be odd")
        return self


def problem(document: object) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        Outer.model_validate(document)
    return raised.value


def test_a_field_is_named_by_its_path() -> None:
    error = problem({"inner": {"port": "x"}})
    assert located_problem(error) == (
        "inner.port",
        "Input should be a valid integer, unable to parse string as an integer",
    )
    assert first_problem(error).startswith("inner.port: Input should be a valid integer")


def test_a_problem_of_the_whole_document_is_the_documents_without_pydantics_prefix() -> None:
    error = problem({"inner": {"port": 2}})
    assert located_problem(error) == ("", "the port must be odd")
    assert first_problem(error) == "document: the port must be odd"


def test_a_stack_file_is_read_with_the_same_one_line(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    path.write_text('{"provider": "local", "sut": 5}')
    with pytest.raises(StackFileError) as raised:
        StackDescription.read(path)
    assert str(raised.value) == f"{path}: sut: Input should be a valid string"
