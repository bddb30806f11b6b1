"""`golive` run as an operator runs it: a real process, its output captured, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

GOLIVE = [sys.executable, "-m", "golive"]


def run_golive(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    # Wide enough that rich does not fold the lines the tests look for.
    return subprocess.run(
        [*GOLIVE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
