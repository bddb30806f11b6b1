"""The base of the evidence files golive writes into a run directory (the load run's, the drills',
the chaos journals', the health checks'): one pydantic type per file, which the stage writes with
and the report reads back with (`read`), so that a change on either side breaks a test, not a gate.
The types live in golive.core, below both: the report may not import the capabilities that write
them (docs/architecture.md).

Reading is stricter than making. A writer may leave a field to its default while it works, but a
file is read back whole: every field must be in it (but those a type names in `added_later`, which
files written before them lack and which read as their defaults), no other may be, and what a
writer derives from the rest (a drill's `ok`, a journal's `status`) must be there and agree with
it. A file that is not so is an `EvidenceError` of one line that names the file and the first
thing wrong, never a guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from golive.core.documents import first_problem

# The validation context of `read`: a file, which must hold everything its writer writes.
_READING = "reading"


class EvidenceError(ValueError):
    """A file that is not the evidence golive writes: says which and why, on one line."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


class Record(BaseModel):
    """One evidence file, or a part of one."""

    model_config = ConfigDict(extra="forbid")

    # What a file of the type is, for the errors: "not <evidence> golive writes".
    evidence: ClassVar[str] = "the evidence"
    # Fields a file written before they existed lacks: read as their defaults.
    added_later: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="wrap")
    @classmethod
    def _as_written(cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo) -> Self:
        """Every field there when reading a file; the derived ones set aside, and checked against
        what the rest makes them."""
        if not isinstance(data, dict):
            return handler(data)  # an instance, handed on as it is
        derived = cls.model_computed_fields
        if isinstance(info.context, dict) and info.context.get(_READING):
            wanted = [*cls.model_fields, *derived]
            missing = [name for name in wanted if name not in data and name not in cls.added_later]
            if missing:
                raise _invalid(cls, [InitErrorDetails(type="missing", loc=(missing[0],), input=data)])
        written = {name: data[name] for name in derived if name in data}
        record = handler({name: value for name, value in data.items() if name not in written})
        wrong = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "derived",
                    "is {written}, but the rest of the file makes it {derived}",
                    {"written": repr(value), "derived": repr(getattr(record, name))},
                ),
                loc=(name,),
                input=value,
            )
            for name, value in written.items()
            if getattr(record, name) != value
        ]
        if wrong:
            raise _invalid(cls, wrong)
        return record

    @classmethod
    def read(cls, path: Path) -> Self:
        try:
            return cls.model_validate_json(path.read_bytes(), context={_READING: True})
        except OSError as error:
            raise EvidenceError(path, f"cannot read: {error.strerror}") from None
        except ValidationError as error:
            raise EvidenceError(path, f"not {cls.evidence} golive writes: {first_problem(error)}") from None

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2))
        return path


def _invalid(kind: type[Record], errors: list[InitErrorDetails]) -> ValidationError:
    return ValidationError.from_exception_data(kind.__name__, errors)
