"""`golive toxiproxy` as a user starts it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from golive.core import http_clients
from golive.fixtures.network import free_port, wait_until

GOLIVE = [sys.executable, "-m", "golive", "toxiproxy"]


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_serves_the_api_with_proxies_from_a_config_and_stops_on_a_signal(
    tmp_path: Path, stop_with: int
) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "db", "upstream": "127.0.0.1:5432", "listen": "127.0.0.1:0"}]))
    port = free_port()
    process = subprocess.Popen([*GOLIVE, "--port", str(port), "--config", str(config), "--seed", "3"])
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> dict[str, object] | None:
            response = http_clients.get(f"{url}/proxies", timeout=1)
            return response.json() if response.status_code == 200 else None

        proxies = wait_until(answers, timeout=30, what="golive toxiproxy")
        assert set(proxies) == {"db"}
    finally:
        process.send_signal(stop_with)
        process.wait(30)
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not JSON"), ('[{"name": "x"}]', "missing required field: upstream at proxy 1")],
)
def test_a_bad_config_is_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(content)
    result = subprocess.run(
        [*GOLIVE, "--port", str(free_port()), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"toxiproxy: {config}: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr
