"""A page opened in headless Chromium (Debian's `chromium`), as a reader opens the report: what
the console said, and a screenshot. No network: every host name resolves to nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)$")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no chromium (apt-get install -y chromium; CI installs it)"
        if os.environ.get("GOLIVE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"GOLIVE_REQUIRE_CHROMIUM=1, but {reason}")
        pytest.skip(reason)
    return found


def open_page(page: Path, screenshot: Path, width: int = 1200, height: int = 3000) -> list[str]:
    """Renders `page`, writes `screenshot` (PNG), returns every console message."""
    with tempfile.TemporaryDirectory(prefix="golive-chromium-") as profile:
        argv = [
            chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND", f"--window-size={width},{height}",
            f"--screenshot={screenshot}", page.resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.is_file(), "no screenshot"
    assert screenshot.stat().st_size > 1000, "an empty screenshot"
    return [match.group(1) for line in done.stderr.splitlines() if (match := _CONSOLE.search(line))]
