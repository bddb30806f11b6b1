"""Load from several machines, on loopback: `golive load --master` and two `golive load --worker`
as separate processes against the stack's backend are one run, judged on the workers' merged
statistics exactly as a single process's run is; and a worker never waits for a master forever,
nor leaves anything running behind it."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from golive.core.load_evidence import LoadRecord, TimelineRecord, read_load_record
from golive.fixtures.description import StackDescription
from golive.fixtures.network import LOOPBACK, PortClaim, free_port, reserve_port
from golive.fixtures.toxiproxy import ToxiproxyClient
from golive.loadtests.accounts import Accounts
from golive.loadtests.profiles import Profile
from golive.loadtests.run import LoadError, LocustRun, MasterBinding
from tests.harness.golive import GOLIVE, run_golive
from tests.harness.leaks import assert_no_survivors, new_marker

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
HEALTH = "[health] GET /health"
IMPOSSIBLE = f"http_reqs{{name:{HEALTH}}}: count > 1000000"
THRESHOLDS = {
    "http_req_failed": ["rate < 0.01"],
    "http_reqs": ["count > 0"],
    # Only an operator logged in with the accounts the master handed over gets these.
    "http_reqs{group:admin}": ["count > 0"],
    f"http_reqs{{name:{HEALTH}}}": ["count > 0"],
}
SPLIT = {
    "description": "two journeys over two workers, for a few seconds",
    "users": 4,
    "spawn_rate": 4,
    "run_time": "3s",
    "journeys": {"health": 1, "admin": 1},
    "thresholds": THRESHOLDS,
}
WORKER_LINE = re.compile(
    r"worker (?P<index>\d+) sent (?P<requests>\d+) requests \((?P<failures>\d+) failed\)"
)
RUN_SECONDS = 180  # a bound on each process, never an expectation


@dataclass
class Ended:
    returncode: int
    stderr: str


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    impossible = {**THRESHOLDS, f"http_reqs{{name:{HEALTH}}}": ["count > 0", "count > 1000000"]}
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"split": SPLIT, "split-impossible": {**SPLIT, "thresholds": impossible}}))
    return path


def without_the_run(environ: dict[str, str]) -> dict[str, str]:
    """An environment holding nothing of the run: what a worker on another machine has."""
    return {key: value for key, value in environ.items() if not key.startswith(("GOLIVE_", "LOCUST_"))}


def accounts(description: StackDescription) -> dict[str, str]:
    user, admin = description.users["user"], description.users["admin"]
    return {
        "GOLIVE_USER_USERNAME": user.username,
        "GOLIVE_USER_PASSWORD": user.password,
        "GOLIVE_ADMIN_USERNAME": admin.username,
        "GOLIVE_ADMIN_PASSWORD": admin.password,
    }


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GOLIVE, "load", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "COLUMNS": "200"},
    )


def ended(process: subprocess.Popen[str]) -> Ended:
    try:
        _, stderr = process.communicate(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"{process.args!r} did not end within {RUN_SECONDS} s:\n{stderr}") from None
    return Ended(process.returncode, stderr)


def distributed(
    target: str, profile: str, profiles: Path, run_dir: Path, env: dict[str, str]
) -> tuple[Ended, list[Ended]]:
    """A master and two workers, each a `golive load` process of its own; the workers are given
    nothing but the master's address."""
    with reserve_port() as claim:  # no other golive process takes it before the master binds it
        return _distributed(str(claim.port), target, profile, profiles, run_dir, env)


def _distributed(
    port: str, target: str, profile: str, profiles: Path, run_dir: Path, env: dict[str, str]
) -> tuple[Ended, list[Ended]]:
    master = spawn(
        *("--master", "--expect-workers", "2", "--master-bind-host", LOOPBACK, "--master-bind-port", port),
        *("--target", target, "--profiles", str(profiles), "--profile", profile),
        *("--run-dir", str(run_dir / "master")),
        env={**os.environ, **env},
    )
    workers = [
        spawn(
            *("--worker", "--master-host", LOOPBACK, "--master-port", port, "--master-timeout", "60"),
            *("--run-dir", str(run_dir / f"worker-{index}")),
            env=without_the_run(dict(os.environ)),
        )
        for index in range(2)
    ]
    try:
        return ended(master), [ended(worker) for worker in workers]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
                process.wait()


def verdicts(record: LoadRecord) -> list[tuple[str, bool]]:
    return [(outcome.threshold, outcome.ok) for outcome in record.thresholds]


def sent_by(workers: list[Ended]) -> dict[int, int]:
    """What each worker says it sent (its last line), by index; each ended well, nothing failed."""
    sent = {}
    for worker in workers:
        assert worker.returncode == 0, worker.stderr
        (line,) = WORKER_LINE.finditer(worker.stderr)
        assert line["failures"] == "0", worker.stderr
        sent[int(line["index"])] = int(line["requests"])
    assert sorted(sent) == [0, 1]
    return sent


def test_a_master_and_two_worker_processes_are_one_run_judged_on_their_merged_statistics(
    golive_sut_url: str, golive_stack_description: StackDescription, profiles: Path, tmp_path: Path
) -> None:
    env = accounts(golive_stack_description)
    master, workers = distributed(golive_sut_url, "split", profiles, tmp_path, env)

    assert master.returncode == 0, master.stderr
    assert "PASS: every threshold held" in master.stderr
    sent = sent_by(workers)
    assert all(requests > 0 for requests in sent.values()), sent

    # The same evidence, with the same types, as a single process's run.
    record = read_load_record(tmp_path / "master")
    TimelineRecord.read(tmp_path / "master" / "load" / "timeline.json")
    assert record.locust_workers == 2
    assert record.workers_reporting == ["worker 0", "worker 1"]
    # Every request either worker sent is in the master's statistics, and nothing else is.
    assert record.total.requests == sum(sent.values())
    assert record.total.failures == 0
    for endpoint in (HEALTH, "[auth] POST /api/v1/auth/token", "[admin] GET /circuit-breakers/status"):
        assert record.endpoints[endpoint].requests > 0, sorted(record.endpoints)
    assert all(ok for _, ok in verdicts(record)), record.thresholds


# Health checks that each wait on the AI service's answer, slowed by the fault proxy: the run ends
# with some in flight, which the workers finish (--stop-timeout) after they were told to stop.
IN_FLIGHT = {
    "description": "health checks that take over a second, ended while some are in flight",
    "users": 6,
    "spawn_rate": 6,
    "run_time": "3s",
    "journeys": {"health": 1},
    "thresholds": {"http_req_failed": ["rate < 0.01"]},
}


def test_requests_still_in_flight_when_the_run_ends_are_in_the_merged_statistics(
    golive_sut_url: str, golive_toxiproxy: ToxiproxyClient, tmp_path: Path
) -> None:
    """Locust's own quit waits half a second for its workers' last statistics; a worker finishing
    a slow request is later than that, and its last requests were lost from the merged run."""
    path = tmp_path / "in-flight.yaml"
    path.write_text(yaml.safe_dump({"in-flight": IN_FLIGHT}))
    with golive_toxiproxy.toxic("upstream", "latency", {"latency": 1200}):
        master, workers = distributed(golive_sut_url, "in-flight", path, tmp_path, {})
    assert master.returncode == 0, master.stderr
    sent = sent_by(workers)
    record = read_load_record(tmp_path / "master")
    assert (record.endpoints[HEALTH].p50_ms or 0) > 1000, record.endpoints[HEALTH]  # the toxic held
    assert record.total.requests == sum(sent.values()), (record.total, sent)


def test_an_impossible_threshold_fails_naming_its_endpoint_as_it_does_in_one_process(
    golive_sut_url: str, golive_stack_description: StackDescription, profiles: Path, tmp_path: Path
) -> None:
    env = accounts(golive_stack_description)
    master, workers = distributed(golive_sut_url, "split-impossible", profiles, tmp_path / "distributed", env)
    single = run_golive(
        *("load", "--target", golive_sut_url, "--profiles", str(profiles), "--profile", "split-impossible"),
        *("--run-dir", str(tmp_path / "single")),
        env=env,
        timeout=RUN_SECONDS,
    )

    assert all(worker.returncode == 0 for worker in workers), [worker.stderr for worker in workers]
    for run, stderr in ((master, master.stderr), (single, single.stderr)):
        assert run.returncode == 99, stderr
        assert f"✗ {IMPOSSIBLE}" in stderr
        assert f"✓ http_reqs{{name:{HEALTH}}}: count > 0" in stderr
    as_distributed = verdicts(read_load_record(tmp_path / "distributed" / "master"))
    as_single = verdicts(read_load_record(tmp_path / "single"))
    assert as_distributed == as_single
    assert [threshold for threshold, ok in as_distributed if not ok] == [IMPOSSIBLE]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--worker"],
            "--worker needs --master-host: the address of the machine running golive load --master",
        ),
        (
            ["--worker", "--master-host", LOOPBACK, "--profile", "smoke", "--target", "http://127.0.0.1:9"],
            "--worker takes the run from its master: not with --profile, --target",
        ),
        (["--master"], "--master needs --expect-workers N: how many golive load --worker make the run"),
        (["--master-host", LOOPBACK], "--master-host only with --worker"),
        (["--expect-workers", "2"], "--expect-workers only with --master"),
        (
            ["--master", "--expect-workers", "2", "--workers", "2"],
            "--workers starts workers on this machine, --master waits for them from others: not both",
        ),
        (
            ["--master", "--expect-workers", "1", "--master-bind-host", "192.0.2.1"],
            "--master-bind-host/--master-bind-port 192.0.2.1:5557: Cannot assign requested address",
        ),
    ],
)
def test_what_cannot_run_distributed_is_one_line_before_anything_starts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    run = run_golive("load", *args, "--run-dir", str(tmp_path / "run"))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == f"golive load: {message}"
    assert not (tmp_path / "run").exists()


def test_a_worker_whose_master_never_answers_gives_up_in_one_line(tmp_path: Path) -> None:
    marker = new_marker()
    port = free_port()  # nothing listens there
    run = run_golive(
        *("load", "--worker", "--master-host", LOOPBACK, "--master-port", str(port), "--master-timeout", "2"),
        *("--run-dir", str(tmp_path)),
        env=marker,
        timeout=RUN_SECONDS,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"golive load: no Locust master answered at {LOOPBACK}:{port} within 2 s (nothing listens there)"
    )
    assert_no_survivors(marker)


def test_a_worker_whose_master_vanishes_gives_up_in_one_line(tmp_path: Path) -> None:
    marker = new_marker()
    port = str(free_port())
    # A plain Locust master with the same locustfile, loading an address where nothing answers.
    master = subprocess.Popen(
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"),
            *(
                "--master",
                "--master-bind-host",
                LOOPBACK,
                "--master-bind-port",
                port,
                "--expect-workers",
                "1",
            ),
            *("--users", "1", "--run-time", "120s", "--host", f"http://{LOOPBACK}:{free_port()}"),
            "HealthChecker",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=without_the_run(dict(os.environ)),
    )
    worker = spawn(
        *("--worker", "--master-host", LOOPBACK, "--master-port", port, "--master-timeout", "3"),
        *("--run-dir", str(tmp_path)),
        env={**without_the_run(dict(os.environ)), **marker},
    )
    try:
        connected = first_line(worker, "connected to the Locust master", timeout=60)
        assert connected == f"connected to the Locust master at {LOOPBACK}:{port}: worker 0"
        master.send_signal(signal.SIGKILL)
        master.wait()
        rest = ended(worker)
    finally:
        for process in (master, worker):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert rest.returncode == 1
    assert rest.stderr.strip() == (
        f"golive load: lost the Locust master at {LOOPBACK}:{port}: not heard from for 3 s"
    )
    assert_no_survivors(marker)


def first_line(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The first line of the process's stderr holding `text`, read as it comes (polled, with a
    deadline)."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if not ready:
            continue
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"the worker ended (exit {process.wait()}) before a line with {text!r}")
        if text in line:
            return line.strip()
    raise AssertionError(f"no line with {text!r} within {timeout} s")


def test_a_master_whose_workers_do_not_all_come_says_how_many_did(tmp_path: Path) -> None:
    accounts_file = Accounts(users=[], admins=[]).write(tmp_path / "accounts.json")
    profile = Profile.model_validate({**SPLIT, "name": "split"})
    binding = MasterBinding(LOOPBACK, free_port(), workers=2, wait_seconds=2)
    locust = LocustRun(
        profile, [f"http://{LOOPBACK}:9"], accounts_file, tmp_path / "load", tmp_path / "logs", master=binding
    ).start()
    try:
        code = locust.wait()
        with pytest.raises(LoadError) as raised:
            locust.result(code, [], [])
    finally:
        locust.stop()
    assert str(raised.value) == "0 of 2 Locust workers connected within 2 s: the run did not start"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux's abstract sockets")
def test_the_port_of_a_master_with_its_workers_here_is_claimed_until_the_run_stops(tmp_path: Path) -> None:
    # Locust takes a second or two to bind it: meanwhile another golive process must not pick it.
    accounts_file = Accounts(users=[], admins=[]).write(tmp_path / "accounts.json")
    profile = Profile.model_validate({**SPLIT, "name": "split"})
    hosts = [f"http://{LOOPBACK}:9"]
    locust = LocustRun(profile, hosts, accounts_file, tmp_path / "load", tmp_path / "logs", workers=1)
    try:
        argv = locust.start().main.argv
        port = int(argv[argv.index("--master-bind-port") + 1])
        assert PortClaim.take(port) is None
    finally:
        locust.stop()
    claim = PortClaim.take(port)
    assert claim is not None
    claim.release()
