"""`golive pusher` as a user starts it: credentials from options or the environment, the address
it took, a clean stop on a signal, and one clear line for what it cannot do."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys

import pusher
import pytest

from golive.core import http_clients
from golive.fixtures.network import LOOPBACK

GOLIVE = [sys.executable, "-m", "golive", "pusher"]


def started_line(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], 30)
    assert ready, "golive pusher said nothing"
    return process.stderr.readline()


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_serves_with_the_credentials_given_and_stops_on_a_signal(stop_with: int) -> None:
    env = {**os.environ, "PUSHER_SECRET": "from-the-environment"}
    argv = [*GOLIVE, "--port", "0", "--app-id", "4242", "--key", "cli-key"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = started_line(process)
        found = re.search(r"on http://([\d.]+):(\d+): app_id=4242 key=cli-key$", line.strip())
        assert found, line
        assert "from-the-environment" not in line  # a secret it was given is not echoed
        sdk = pusher.Pusher(
            app_id="4242",
            key="cli-key",
            secret="from-the-environment",
            host=found[1],
            port=int(found[2]),
            ssl=False,
        )
        assert sdk.channels_info() == {"channels": {}}  # signed with the secret from $PUSHER_SECRET
    finally:
        process.send_signal(stop_with)
        process.wait(30)
    assert process.returncode == 0


@pytest.mark.parametrize("given", [[], ["--app-id", "77", "--key", "k"]], ids=["nothing", "no-secret"])
def test_made_up_credentials_are_printed_so_they_can_be_used(given: list[str]) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PUSHER_")}
    process = subprocess.Popen([*GOLIVE, "--port", "0", *given], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = started_line(process)
        found = re.search(r"http://[\d.]+:(\d+): app_id=(\d+) key=(\w+) secret=(\w+)$", line.strip())
        assert found, line
        root = http_clients.get(f"http://{LOOPBACK}:{found[1]}/", timeout=10).json()
        assert (root["app_id"], root["key"]) == (found[2], found[3])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--app-id", "my-app"], "app id must be digits"),
        (["--key", "a key"], "app key may hold only"),
        (["--webhook-url", "ftp://hooks"], "webhook URL must be an http(s) URL"),
        (["--activity-timeout", "0"], "Invalid value for '--activity-timeout'"),
    ],
)
def test_bad_options_are_one_clear_line(options: list[str], message: str) -> None:
    result = subprocess.run([*GOLIVE, "--port", "0", *options], capture_output=True, text=True, timeout=60)
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*GOLIVE, "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"golive pusher: cannot listen on {LOOPBACK}:{port}: Address already in use"
    )
