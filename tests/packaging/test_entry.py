"""A missing optional dependency is one line naming the extra, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("module", "extra"), [("docker", "docker"), ("fastapi", "backend")])
def test_a_missing_extra_is_named(module: str, extra: str) -> None:
    # A None entry in sys.modules makes `import module` raise ModuleNotFoundError, as if absent.
    program = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv = ['golive', 'version']; "
        "from golive.entry import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"golive: this needs golive[{extra}] (no module named {module!r}): pip install 'golive[{extra}]'"
    ]
