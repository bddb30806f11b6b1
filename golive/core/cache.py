"""golive's cache directory: what golive builds once per machine and reuses (the local stack's
Postgres clusters, the Node packages of an installed golive). GOLIVE_CACHE_DIR, else
$XDG_CACHE_HOME/golive, else ~/.cache/golive."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_VARIABLE = "GOLIVE_CACHE_DIR"


def cache_home(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    configured = environ.get(CACHE_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "golive"
