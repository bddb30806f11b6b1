"""Prints a pip constraints file pinning each of golive's runtime dependencies (its core and every
extra but dev) to the lower bound of its range in pyproject.toml: what the `lowest` tox env installs
to prove that the ranges golive declares are real. Usage: python scripts/lowest-constraints.py > FILE"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"])
for extra, listed in project["optional-dependencies"].items():
    if extra not in {"dev", "all"}:
        requirements += listed
pins = {}
for requirement in requirements:
    match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    if match is None:
        sys.exit(f"lowest-constraints: cannot read {requirement!r}")
    name, specifiers = match.group(1).lower(), match.group(3)
    lower = re.search(r">=\s*([^,;\s]+)", specifiers)
    if lower is None:
        sys.exit(f"lowest-constraints: {requirement!r} has no lower bound")
    pins[name] = lower.group(1)
print("\n".join(f"{name}=={version}" for name, version in sorted(pins.items())))
