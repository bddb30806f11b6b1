"""The backend's real clients, as Locust users. Run by `golive load`, or by hand as any locustfile
(`locust -f loadtests/locustfile.py --host URL`, with accounts from the variables below); never
imported by pytest, since gevent patches the whole process.

Every request is named `[group] METHOD /path`: the group is what the profiles' thresholds select
(`http_req_duration{group:content}`), the rest is the route template.

The target is Locust's `--host` (or LOCUST_HOST, or the web UI's host field), as for any
locustfile. Configuration, from the environment:
  GOLIVE_LOAD_HOSTS     several base URLs, comma-separated, to spread users over the replicas
                        (golive's way; used only when no host is given to Locust)
  GOLIVE_LOAD_ACCOUNTS  a JSON file: {"users": [[username, password], ...], "admins": [...]}
  GOLIVE_USER_USERNAME, GOLIVE_USER_PASSWORD, GOLIVE_ADMIN_USERNAME, GOLIVE_ADMIN_PASSWORD
                        one account of each role, when there is no GOLIVE_LOAD_ACCOUNTS file (as
                        for `golive load --target`); journeys without an account stop at once
  GOLIVE_LOAD_WEIGHTS   JSON {journey: weight}; a journey left out, or weighted 0, does not run

Distributed (`--master`, `--worker`, here or on other machines): the master's environment is the
one that counts. It decides which journeys run, and hands its hosts and accounts to every worker
with the run (Locust forwards a locustfile's own options to the workers with each spawn message),
with how many workers share them (its --expect-workers): a worker needs none of the variables
above, and should not set GOLIVE_LOAD_WEIGHTS (a journey it leaves out could not be spawned there).
What a worker has of its own is used only where its master sent nothing. Whoever reaches the
master's port can join as a worker and be handed the accounts: bind it where only workers reach.

GOLIVE_LOAD_EVENTS is golive's own: a file where this process notes, one JSON line each, what golive
watches it by (a worker connected, its master's heartbeats as the file's time, the run over, its
requests; a master's workers coming in and the run started). Unset, nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from locust import between, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.event import EventHook
from locust.exception import StopUser
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, Runner, WorkerRunner

LOGIN_ATTEMPTS = 5
MAX_RETRY_AFTER = 10.0
WORKER_MARKER = "WORKER"  # the request type of each worker's marker (loadtests/results.py)
RUN_OVER = "golive_run_over"  # the master's word to its workers, before it tells them to quit
FINAL_REPORT = "golive_final"  # marks the report a worker sends once its users have stopped


class Setup:
    """The hosts the users spread over, the accounts they take, and how many workers share them:
    this process's own, from its environment, until a worker takes its master's."""

    def __init__(self, hosts: list[str], accounts: dict[str, list[list[str]]], workers: int = 1) -> None:
        self._set(hosts, accounts, workers)

    def _set(self, hosts: list[str], accounts: dict[str, list[list[str]]], workers: int) -> None:
        self.hosts = hosts
        self.accounts = accounts
        self.workers = workers
        self._hosts = itertools.cycle(hosts)
        self._accounts = itertools.count()
        self._clients = itertools.count()

    @classmethod
    def from_environment(cls) -> Setup:
        hosts = os.environ.get("GOLIVE_LOAD_HOSTS", "")
        return cls([host.strip().rstrip("/") for host in hosts.split(",") if host.strip()], _accounts())

    def document(self) -> str:
        return json.dumps({"hosts": self.hosts, "accounts": self.accounts, "workers": self.workers})

    def take(self, document: str) -> None:
        """The master's setup (its `document()`), but where it has nothing: then this one's own."""
        sent = json.loads(document)
        hosts = sent.get("hosts") or self.hosts
        theirs = sent.get("accounts") or {}
        accounts = {kind: theirs.get(kind) or self.accounts.get(kind) or [] for kind in KINDS}
        self._set(hosts, accounts, max(1, int(sent.get("workers") or 1)))

    def next_host(self) -> str | None:
        return next(self._hosts) if self.hosts else None

    def next_client(self, worker: int) -> int:
        return next(self._clients) * self.workers + worker

    def next_account(self, kind: str, worker: int) -> list[str] | None:
        # Worker w of W takes accounts w, w+W, w+2W...: no two simulated users share one while
        # there are as many accounts as users (a shared one would share its rate limit).
        accounts = self.accounts.get(kind) or []
        if not accounts:
            return None
        return accounts[(next(self._accounts) * self.workers + worker) % len(accounts)]


KINDS = ("users", "admins")


def _accounts() -> dict[str, list[list[str]]]:
    path = os.environ.get("GOLIVE_LOAD_ACCOUNTS")
    if not path:
        return {"users": _account_of("USER"), "admins": _account_of("ADMIN")}
    with open(path, encoding="utf-8") as stream:
        loaded: dict[str, list[list[str]]] = json.load(stream)
    return loaded


def _account_of(role: str) -> list[list[str]]:
    username = os.environ.get(f"GOLIVE_{role}_USERNAME")
    password = os.environ.get(f"GOLIVE_{role}_PASSWORD")
    return [[username, password]] if username and password else []


class Notes:
    """What golive watches this process by (GOLIVE_LOAD_EVENTS): one JSON line per event, and the
    file's modification time for the master's last heartbeat. Without the variable, nothing."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def add(self, event: str, **detail: object) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"event": event, "at": time.time(), **detail}) + "\n")

    def touch(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):  # golive watches the file: without it, no one to tell
                os.utime(self.path)


SETUP = Setup.from_environment()
NOTES = Notes(os.environ.get("GOLIVE_LOAD_EVENTS") or None)


class Journey(FastHttpUser):
    """A client of the backend: spread over the replicas, with an account of its own where there
    are enough (the rate limit is per account, as it is for real clients)."""

    abstract = True
    journey: ClassVar[str] = ""
    network_timeout = 30.0
    connection_timeout = 10.0
    token: str | None = None
    user_id: int | None = None

    def __init__(self, environment: Environment) -> None:
        # Locust has already put its --host on the class; golive's replicas only stand in for it.
        host = SETUP.next_host() if not environment.host else None
        if host is not None:
            self.host = host
        # Each simulated client comes from an address of its own, as through the load balancer
        # in front of a real deployment; believed only where the backend trusts this proxy
        # (RATE_LIMIT_TRUSTED_PROXIES), as the local profiles configure it.
        number = SETUP.next_client(_worker_index(environment))
        self.default_headers = {
            "X-Forwarded-For": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        }
        super().__init__(environment)

    def log_in(self, account: list[str] | None) -> None:
        """Logs in as a well-behaved client does: a 429 is waited out (Retry-After), a few times."""
        if account is None:
            raise StopUser  # no credentials for this journey: nothing it can do
        username, password = account
        for attempt in range(1, LOGIN_ATTEMPTS + 1):
            with self.client.post(
                "/api/v1/auth/token",
                json={"username": username, "password": password},
                name="[auth] POST /api/v1/auth/token",
                catch_response=True,
            ) as response:
                if response.status_code == 429 and attempt < LOGIN_ATTEMPTS:
                    response.request_meta["name"] = "[auth] POST /api/v1/auth/token (throttled)"
                    response.success()
                    retry_after = min(float(response.headers.get("Retry-After") or 1), MAX_RETRY_AFTER)
                elif response.status_code != 200:
                    response.failure(f"log-in answered {response.status_code}")
                    raise StopUser
                else:
                    self.token = response.json()["data"]["access_token"]
                    break
            time.sleep(retry_after)  # gevent's: only this simulated user waits
        me = self.client.get("/api/v1/auth/me", headers=self.auth, name="[auth] GET /api/v1/auth/me")
        self.user_id = me.json()["data"]["id"] if me.status_code == 200 else None

    def account(self, kind: str = "users") -> list[str] | None:
        return SETUP.next_account(kind, _worker_index(self.environment))

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class HealthChecker(Journey):
    """A load balancer or uptime monitor: anonymous, steady."""

    journey = "health"
    wait_time = between(0.5, 1.5)

    @task
    def health(self) -> None:
        self.client.get("/health", name="[health] GET /health")


class ContentCreator(Journey):
    """A teacher: logs in, generates content, polls it until it is done, looks at their list."""

    journey = "creator"
    wait_time = between(1, 3)
    polls = 5

    def on_start(self) -> None:
        self.log_in(self.account())

    @task(3)
    def generate_and_poll(self) -> None:
        with self.client.post(
            "/api/v1/content/generate",
            headers=self.auth,
            json={
                "prompt": f"A lesson on fractions #{uuid.uuid4().hex[:8]}",
                "content_type": "lesson",
            },
            name="[content] POST /api/v1/content/generate",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code} {_error_code(response.text)}")
                return
            content_id = response.json()["data"]["id"]
        for _ in range(self.polls):
            polled = self.client.get(
                f"/api/v1/content/{content_id}", headers=self.auth, name="[content] GET /api/v1/content/{id}"
            )
            if polled.status_code != 200 or polled.json()["data"]["status"] != "processing":
                return

    @task(1)
    def list_content(self) -> None:
        self.client.get("/api/v1/content?limit=20", headers=self.auth, name="[content] GET /api/v1/content")


THROTTLED = "[burst] GET /api/v1/auth/me (throttled)"


class BurstyClient(Journey):
    """A script that fires requests in bursts: the rate limiter answers 429, which is expected
    here (with its envelope and Retry-After) and counts as a success."""

    journey = "bursty"
    wait_time = between(3, 6)
    burst = 30

    def on_start(self) -> None:
        self.log_in(self.account())

    @task
    def burst_of_requests(self) -> None:
        for _ in range(self.burst):
            with self.client.get(
                "/api/v1/auth/me", headers=self.auth, name="[burst] GET /api/v1/auth/me", catch_response=True
            ) as response:
                if response.status_code == 429:
                    if _error_code(response.text) == "RATE_LIMIT_EXCEEDED" and response.headers.get(
                        "Retry-After"
                    ):
                        # Counted apart: a profile can require that the limiter engaged.
                        response.request_meta["name"] = THROTTLED
                        response.success()
                    else:
                        response.failure("429 without the envelope's RATE_LIMIT_EXCEEDED or Retry-After")
                elif response.status_code != 200:
                    response.failure(f"{response.status_code}")


class DashboardClient(Journey):
    """The dashboard: signs its Pusher channel subscriptions, reads agent metrics."""

    journey = "dashboard"
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.log_in(self.account())
        # A dashboard subscribes to its channel and shows its metrics as it opens; then its tasks
        # come at random (a short run could otherwise end without one of each, and a profile's
        # gate on either group would have nothing to judge).
        self.authorize_channel()
        self.agent_metrics()

    @task(2)
    def authorize_channel(self) -> None:
        socket_id = f"{secrets.randbelow(10**9) + 1}.{secrets.randbelow(10**9) + 1}"
        with self.client.post(
            "/pusher/auth",
            headers=self.auth,
            data={"socket_id": socket_id, "channel_name": f"private-user-{self.user_id}"},
            name="[realtime] POST /pusher/auth",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "auth" not in response.text:
                response.failure(f"{response.status_code} {_error_code(response.text)}")

    @task(1)
    def agent_metrics(self) -> None:
        self.client.get(
            "/api/v1/agents/metrics", headers=self.auth, name="[dashboard] GET /api/v1/agents/metrics"
        )


class AdminReader(Journey):
    """An operator watching the breakers and the resilience layer."""

    journey = "admin"
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.log_in(self.account("admins"))

    @task
    def status(self) -> None:
        for path in ("/circuit-breakers/status", "/resilience/status", "/rate-limit/config"):
            self.client.get(path, headers=self.auth, name=f"[admin] GET {path}")


def _error_code(body: str) -> str:
    try:
        return str(json.loads(body)["metadata"]["error_code"])
    except (ValueError, KeyError, TypeError):
        return ""


JOURNEYS: dict[str, type[Journey]] = {
    cls.journey: cls for cls in (HealthChecker, ContentCreator, BurstyClient, DashboardClient, AdminReader)
}


def _apply_weights() -> None:
    weights = json.loads(os.environ.get("GOLIVE_LOAD_WEIGHTS") or "{}")
    for name, cls in JOURNEYS.items():
        cls.weight = int(weights.get(name, 1 if not weights else 0))
        cls.abstract = cls.weight == 0  # Locust skips abstract users


_apply_weights()


def _on(hook: EventHook, listener: Callable[..., None]) -> None:
    hook.add_listener(listener)  # type: ignore[no-untyped-call]


def _worker_index(environment: Environment) -> int:
    """This worker's number among its master's (0 outside distributed mode)."""
    return max(0, int(getattr(environment.runner, "worker_index", 0)))


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _setup_option(parser: LocustArgumentParser, **_: Any) -> None:
    # A locustfile's own options are what Locust forwards from the master to its workers (with
    # each spawn message): the master's setup travels in this one. Not for people to set.
    parser.add_argument("--golive-setup", default="", help=argparse.SUPPRESS, include_in_web_ui=False)


@events.init.add_listener  # type: ignore[untyped-decorator]
def _distributed(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    if isinstance(runner, MasterRunner):
        _as_master(environment, runner)
    elif isinstance(runner, WorkerRunner):
        _as_worker(environment, runner)


def _as_master(environment: Environment, runner: MasterRunner) -> None:
    options = environment.parsed_options
    if options is not None:
        SETUP.workers = max(1, int(options.expect_workers))
        options.golive_setup = SETUP.document()
    joined: set[str] = set()
    reporting: set[str] = set()  # the workers whose statistics have come
    finished: set[str] = set()  # those whose final report has come

    def worker_connected(client_id: str, **_: Any) -> None:
        if client_id not in joined:
            joined.add(client_id)
            NOTES.add("worker", connected=len(joined))

    def worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        reporting.add(client_id)
        if data.get(FINAL_REPORT):
            finished.add(client_id)

    def run_over(**_: Any) -> None:
        # Locust's quit tells the workers to stop and report, and waits half a second for those
        # reports: a busy machine misses some, and the merged run lacks their last seconds. The
        # workers are told first, here, and their final reports waited for.
        runner.send_message(RUN_OVER)
        deadline = time.monotonic() + environment.stop_timeout + WORKER_REPORT_INTERVAL + 2
        while reporting - finished and time.monotonic() < deadline:
            time.sleep(0.1)  # gevent's: the master's other greenlets take the reports meanwhile

    _on(environment.events.worker_connect, worker_connected)
    _on(environment.events.worker_report, worker_report)
    _on(environment.events.test_start, lambda **_: NOTES.add("run"))
    _on(environment.events.test_stop, run_over)


def _as_worker(environment: Environment, runner: WorkerRunner) -> None:
    # Locust fires `init` once the master has answered: this worker is connected.
    NOTES.add("connected", index=_worker_index(environment))
    sent = {"requests": 0, "failures": 0}

    def start(**_: Any) -> None:
        document = getattr(environment.parsed_options, "golive_setup", "")
        if document:
            SETUP.take(document)  # forwarded by the master with the spawn message, just before
        sent.update(requests=0, failures=0)
        # One marker per worker in the merged statistics: they show which workers took part.
        environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type=WORKER_MARKER,
            name=f"worker {runner.worker_index}",
            response_time=0,
            response_length=0,
            exception=None,
            context={},
        )

    def count(request_type: str, exception: BaseException | None = None, **_: Any) -> None:
        if request_type != WORKER_MARKER:
            sent["requests"] += 1
            sent["failures"] += int(exception is not None)

    def run_over(**_: Any) -> None:
        NOTES.add("over")
        # Its users end as Locust's own stop ends them (--stop-timeout); then every request this
        # worker sent is in one report, which its master waits for.
        runner.stop()
        report: dict[str, Any] = {FINAL_REPORT: True}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=report)  # type: ignore[no-untyped-call]
        runner.send_message("stats", report)

    def quitting(**_: Any) -> None:
        NOTES.add("ended", index=_worker_index(environment), **sent)

    _on(environment.events.test_start, start)
    _on(environment.events.request, count)
    _on(environment.events.heartbeat_received, lambda **_: NOTES.touch())
    _on(environment.events.quitting, quitting)
    runner.register_message(RUN_OVER, run_over)
