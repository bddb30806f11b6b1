"""`--toxiproxy` checked before anything runs, for `golive chaos run` and `golive validate`: with
--target, without --seed, an http(s) URL that answers as a Toxiproxy API with golive's four proxies.
Anything else is one line naming the option and the problem, exit 2, no traceback, no run
directory."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from golive.core import http_clients
from golive.fixtures.http_service import HttpService
from golive.fixtures.toxiproxy import ToxiproxyService
from tests.harness.golive import run_golive


@pytest.fixture(scope="module")
def toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Toxiproxy API with golive's four proxies."""
    service = ToxiproxyService(tmp_path_factory.mktemp("toxiproxy")).start()
    try:
        client = service.client()
        client.populate(
            [
                {"name": name, "upstream": "127.0.0.1:9"}
                for name in ("postgres", "redis", "upstream", "pusher")
            ]
        )
        client.close()
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def half_a_toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Toxiproxy API with two of the four (from a --config, as a deployment's would be)."""
    log_dir = tmp_path_factory.mktemp("half")
    config = log_dir / "toxiproxy.json"
    config.write_text(
        json.dumps([{"name": name, "upstream": "127.0.0.1:9"} for name in ("upstream", "postgres")])
    )
    service = HttpService(
        "half a toxiproxy",
        [sys.executable, "-m", "golive.chaos.toxiproxy", "--fd", "{fd}", "--config", str(config)],
        log_path=log_dir / "toxiproxy.log",
        ready_path="/version",
    ).start()
    try:
        yield service.url
    finally:
        service.stop()


def refused(tmp_path: Path, *args: str) -> str:
    """The one line golive answers `args` with (exit 2, nothing started, no run directory)."""
    run_dir = tmp_path / "run"
    result = run_golive(*args, "--run-dir", str(run_dir), timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dir.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["chaos", "run", "redis-down"], ["validate", "--quick"]])
def test_toxiproxy_needs_a_target(tmp_path: Path, command: list[str], toxiproxy: str) -> None:
    line = refused(tmp_path, *command, "--toxiproxy", toxiproxy)
    name = "chaos run" if command[0] == "chaos" else "validate"
    assert line == f"golive {name}: --toxiproxy needs --target: it is the fault proxy of that deployment"


def test_chaos_against_a_target_needs_its_toxiproxy(tmp_path: Path, golive_unused_port: int) -> None:
    line = refused(
        tmp_path, "chaos", "run", "redis-down", "--target", f"http://127.0.0.1:{golive_unused_port}"
    )
    assert line.startswith(
        "golive chaos run: --target needs --toxiproxy: the faults go through the Toxiproxy"
    )


@pytest.mark.parametrize("command", [["chaos", "run", "redis-down"], ["validate", "--quick"]])
def test_a_toxiproxy_that_does_not_answer(
    tmp_path: Path, command: list[str], golive_unused_port: int
) -> None:
    url = f"http://127.0.0.1:{golive_unused_port}"
    line = refused(tmp_path, *command, "--target", "http://127.0.0.1:9", "--toxiproxy", url)
    assert f": --toxiproxy {url}: does not answer GET /proxies (ConnectError: " in line


def test_something_else_than_a_toxiproxy(tmp_path: Path, toxiproxy: str) -> None:
    url = f"{toxiproxy}/not-the-api"
    line = refused(tmp_path, "chaos", "run", "--target", "http://127.0.0.1:9", "--toxiproxy", url)
    assert line == f"golive chaos run: --toxiproxy {url}: GET /proxies answered 404: not a Toxiproxy API"


def test_a_toxiproxy_without_golives_proxies(tmp_path: Path, half_a_toxiproxy: str) -> None:
    line = refused(
        tmp_path, "validate", "--quick", "--target", "http://127.0.0.1:9", "--toxiproxy", half_a_toxiproxy
    )
    assert line == (
        f"golive validate: --toxiproxy {half_a_toxiproxy}: no proxy named redis, pusher (it has: postgres, "
        "upstream); the experiments need postgres, redis, upstream, pusher, as "
        "deploy/kubernetes/staging-chaos/toxiproxy.json lists them"
    )


def test_not_a_url_and_a_seed_it_cannot_take(tmp_path: Path, toxiproxy: str) -> None:
    target = ("--target", "http://127.0.0.1:9")
    assert refused(tmp_path, "chaos", "run", *target, "--toxiproxy", "localhost:8474") == (
        "golive chaos run: --toxiproxy: 'localhost:8474' is not an http(s) URL"
    )
    assert refused(tmp_path, "chaos", "run", *target, "--toxiproxy", toxiproxy, "--seed", "3").startswith(
        "golive chaos run: --seed: a deployment's Toxiproxy rolls its own dice"
    )


def test_a_password_in_the_toxiproxy_url_is_not_printed(tmp_path: Path, golive_unused_port: int) -> None:
    url = f"http://ops:hunter2hunter2@127.0.0.1:{golive_unused_port}"
    line = refused(tmp_path, "chaos", "run", "--target", "http://127.0.0.1:9", "--toxiproxy", url)
    assert "hunter2hunter2" not in line
    assert f"--toxiproxy http://ops:***@127.0.0.1:{golive_unused_port}: does not answer" in line


def test_a_good_toxiproxy_passes_and_the_target_is_checked_next(
    tmp_path: Path, toxiproxy: str, golive_unused_port: int
) -> None:
    assert http_clients.get(f"{toxiproxy}/proxies", timeout=10).status_code == 200
    target = f"http://127.0.0.1:{golive_unused_port}"
    line = refused(tmp_path, "chaos", "run", "redis-down", "--target", target, "--toxiproxy", toxiproxy)
    assert line.startswith(f"golive chaos run: --target {target}: does not answer GET /health")
