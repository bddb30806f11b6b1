"""The `golive` command's entry point: a missing optional dependency becomes one line that names
the extra bringing it (`pip install 'golive[load]'`), not a traceback."""

from __future__ import annotations

import sys

from golive.core.extras import missing_extra


def main() -> None:
    try:
        from golive.cli import main as run

        run()
    except ModuleNotFoundError as error:
        line = missing_extra(error)
        if line is None:
            raise
        sys.exit(f"golive: {line}")
