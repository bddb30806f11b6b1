"""The documents operators write (chaos experiments, load profiles, stack files, settings), read
with errors of one line that name the file and where in it the problem is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class DocumentError(ValueError):
    pass


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise DocumentError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "document"
        raise DocumentError(f"{path}: {where}: not valid YAML") from None


def located_problem(error: ValidationError) -> tuple[str, str]:
    """The field path (dotted, '' for the whole document) and the message of the first thing
    pydantic found wrong: the one reading of its errors for every document and setting golive
    reads."""
    first = error.errors(include_url=False, include_input=False)[0]
    return ".".join(str(part) for part in first["loc"]), first["msg"].removeprefix("Value error, ")


def first_problem(error: ValidationError) -> str:
    """`field.path: message` for the first thing pydantic found wrong."""
    field, message = located_problem(error)
    return f"{field or 'document'}: {message}"
