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
  GOLIVE_LOAD_WORKERS   how many Locust workers share the accounts (1 without a master)
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
import uuid
from typing import Any, ClassVar

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

HOSTS = [
    host.strip().rstrip("/") for host in os.environ.get("GOLIVE_LOAD_HOSTS", "").split(",") if host.strip()
]
_hosts = itertools.cycle(HOSTS)


def _accounts() -> dict[str, Any]:
    path = os.environ.get("GOLIVE_LOAD_ACCOUNTS")
    if not path:
        return {"users": _account_of("USER"), "admins": _account_of("ADMIN")}
    with open(path, encoding="utf-8") as stream:
        loaded: dict[str, Any] = json.load(stream)
    return loaded


def _account_of(role: str) -> list[list[str]]:
    username = os.environ.get(f"GOLIVE_{role}_USERNAME")
    password = os.environ.get(f"GOLIVE_{role}_PASSWORD")
    return [[username, password]] if username and password else []


ACCOUNTS = _accounts()
WORKERS = max(1, int(os.environ.get("GOLIVE_LOAD_WORKERS") or 1))
_account_numbers = itertools.count()
_client_numbers = itertools.count()
LOGIN_ATTEMPTS = 5
MAX_RETRY_AFTER = 10.0


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
        if not environment.host and HOSTS:
            self.host = next(_hosts)
        # Each simulated client comes from an address of its own, as through the load balancer
        # in front of a real deployment; believed only where the backend trusts this proxy
        # (RATE_LIMIT_TRUSTED_PROXIES), as the local profiles configure it.
        number = next(_client_numbers) * WORKERS + getattr(environment.runner, "worker_index", 0)
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
        accounts = ACCOUNTS.get(kind) or []
        if not accounts:
            return None
        # Worker w of W takes accounts w, w+W, w+2W...: no two simulated users share one while
        # there are as many accounts as users (a shared one would share its rate limit).
        worker = getattr(self.environment.runner, "worker_index", 0)
        account: list[str] = accounts[(next(_account_numbers) * WORKERS + worker) % len(accounts)]
        return account

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


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _announce_worker(environment: Environment, **_: Any) -> None:
    """One marker per worker in the merged statistics: they show which workers took part."""
    if isinstance(environment.runner, WorkerRunner):
        environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="WORKER",
            name=f"worker {environment.runner.worker_index}",
            response_time=0,
            response_length=0,
            exception=None,
            context={},
        )
