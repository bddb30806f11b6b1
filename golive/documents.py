"""The YAML files operators write (chaos experiments, load profiles), read with errors of one
line that name the file and where in it the problem is."""

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


def first_problem(error: ValidationError) -> str:
    """`field.path: message` for the first thing pydantic found wrong."""
    first = error.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "document"
    return f"{field}: {first['msg'].removeprefix('Value error, ')}"
