"""Where experiments run: one protocol, `ExperimentTarget`, for golive's own stack and for a
deployment golive did not start, so that the chaos stage and `golive chaos run` run the same
library against either.

A target says whether it can run an experiment (`not_applicable`: None, or the reason it cannot)
and, for one it can, prepares a run (`prepared`): the backend's URLs, the fault proxy in front of
its dependencies, a user's and an admin's tokens, the content the user wrote during the run, and
the AI-service stand-in when there is one. The runner does the rest the same way on both.

- `StackTarget`: each experiment gets a backend of its own on the stack (as many replicas as it
  needs, sharing their database and Redis database), started with the experiment's settings, and a
  user and an admin made for it.
- `DeploymentTarget`: a deployment whose dependencies go through a Toxiproxy (Shopify's or golive's:
  the same API) with the proxies golive's experiments name. What the stack gives by starting a
  backend, a deployment gives through its own API or not at all: accounts from
  $GOLIVE_{USER,ADMIN}_{USERNAME,PASSWORD}; the experiment's settings through
  `POST /resilience/config` (the runtime ones only, as admin, restored afterwards), with the stack's
  rate-limit headroom beside them; breakers and the user's rate-limit bucket reset before each run;
  the content the run wrote read back through `GET /api/v1/content`. An experiment that needs more
  (start-up settings, replicas addressed one by one, the stand-in's record of calls, accounts that
  were not given, dice rolled per chunk from a Toxiproxy that rolls them per connection) is n/a
  there, with the reason: never run half-way and never a silent pass.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import httpx
import psycopg

from golive.chaos.experiment import Experiment
from golive.chaos.runner import Target
from golive.core import http_clients
from golive.core.signals import shielded
from golive.fixtures.accounts import new_credentials
from golive.fixtures.description import Credentials
from golive.fixtures.operations import create_users
from golive.fixtures.stack import (
    FUNCTIONAL_HEADROOM,
    PROXIES,
    Stack,
    mint_token,
)
from golive.fixtures.toxiproxy import ToxiproxyClient

REQUEST_TIMEOUT_SECONDS = 30.0
# A change of the runtime settings reaches every replica within a second (each re-reads them every
# 0.25 s): seen this many times in a row, it is taken to be everywhere behind a load balancer.
CONFIG_SEEN_IN_A_ROW = 5
CONFIG_TIMEOUT_SECONDS = 15.0
# The replicas behind one URL are told apart by the id /resilience/metrics reports: asked this
# many times, a load balancer shows most of them.
METRIC_SAMPLES = 8
CONTENT_PAGE = 100
CONTENT_PAGES = 100  # 10,000 of the user's newest jobs at most: far more than an experiment writes


class ExperimentTarget(Protocol):
    """Where experiments run (golive's stack, or a deployment)."""

    def not_applicable(self, experiment: Experiment) -> str | None:
        """Why the experiment cannot run here; None when it can."""
        ...

    def prepared(self, experiment: Experiment) -> AbstractContextManager[Target]:
        """A run of the experiment made ready, and undone afterwards; TargetError when either
        cannot be done."""
        ...


class TargetError(RuntimeError):
    """A run could not be prepared, or what it changed could not be undone."""


# --- golive's stack -----------------------------------------------------------------------------


class StackTarget:
    """golive's own stack: every experiment can run there, on a backend of its own."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def not_applicable(self, experiment: Experiment) -> str | None:
        return None

    def prepared(self, experiment: Experiment) -> AbstractContextManager[Target]:
        return dedicated_target(self.stack, experiment)


@contextmanager
def dedicated_target(stack: Stack, experiment: Experiment) -> Iterator[Target]:
    """A backend of the experiment's own on the stack (as many replicas as the experiment needs,
    sharing their database and Redis database), every dependency through the stack's proxies, and
    a user and an admin."""
    assert stack.toxiproxy is not None
    assert stack.upstream is not None
    backend = stack.dedicated_backend(f"chaos/{experiment.name}", experiment.env, experiment.replicas)
    with backend as (cluster, database):
        users = {role: new_credentials(f"chaos-{role}-{uuid.uuid4().hex[:6]}") for role in ("user", "admin")}
        ids = create_users(database, users)
        secret = cluster.env["JWT_SECRET"]
        tokens = {role: mint_token(secret, ids[role], users[role].username, role) for role in users}

        def content_rows() -> dict[str, str]:
            with psycopg.connect(database) as connection:
                rows = connection.execute(
                    "SELECT id::text, status FROM content WHERE user_id = %s", (ids["user"],)
                )
                return dict(rows.fetchall())

        yield Target(
            sut_urls=cluster.urls,
            toxiproxy=stack.toxiproxy.client(),
            upstream=stack.upstream.control(),
            tokens=tokens,
            content_rows=content_rows,
            proxies=set(stack.proxied),
            database=database,
        )


# --- a deployment -------------------------------------------------------------------------------


def toxiproxy_problem(url: str) -> str | None:
    """Why `url` is not a Toxiproxy API with golive's proxies (postgres, redis, upstream, pusher),
    or None when it is."""
    try:
        response = http_clients.get(f"{url.rstrip('/')}/proxies", timeout=10)
    except httpx.HTTPError as error:
        return f"does not answer GET /proxies ({type(error).__name__}: {error})"
    if response.status_code != 200:
        return f"GET /proxies answered {response.status_code}: not a Toxiproxy API"
    try:
        proxies = response.json()
    except ValueError:
        proxies = None
    if not isinstance(proxies, dict):
        return "GET /proxies did not answer with Toxiproxy's list of proxies: not a Toxiproxy API"
    missing = [name for name in PROXIES if name not in proxies]
    if missing:
        return (
            f"no proxy named {', '.join(missing)} (it has: {', '.join(sorted(proxies)) or 'none'}); "
            f"the experiments need {', '.join(PROXIES)}, as deploy/kubernetes/staging-chaos/toxiproxy.json "
            "lists them"
        )
    return None


class DeploymentTarget:
    """A deployment at `url` whose dependencies go through the Toxiproxy at `toxiproxy`; `users`:
    its accounts by role (user, admin)."""

    def __init__(self, url: str, toxiproxy: str, users: Mapping[str, Credentials]) -> None:
        self.url = url.rstrip("/")
        self.toxiproxy = toxiproxy.rstrip("/")
        self.users = dict(users)
        self._config: dict[str, Any] | None = None
        self._proxies: set[str] | None = None
        self._per_chunk: bool | None = None

    # --- what it can run ------------------------------------------------------------------------

    def not_applicable(self, experiment: Experiment) -> str | None:
        reasons = []
        missing = [
            f"$GOLIVE_{role.upper()}_USERNAME/PASSWORD"
            for role in ("user", "admin")
            if role not in self.users
        ]
        if missing:
            reasons.append(
                f"needs accounts on the deployment ({' and '.join(missing)}): the experiments "
                "act as a user, and apply their settings and reset breakers as an admin"
            )
        if experiment.replicas > 1:
            reasons.append(
                f"needs {experiment.replicas} replicas addressed one by one; a deployment is one URL, "
                "its replicas behind it"
            )
        if any(step.upstream is not None for step in [*experiment.method, *experiment.rollbacks]):
            reasons.append("programs golive's AI-service stand-in, which a deployment does not have")
        if any(
            step.traffic is not None
            and step.traffic.expect is not None
            and step.traffic.expect.reached_upstream is not None
            for step in experiment.method
        ):
            reasons.append(
                "counts the calls that reached the AI service, which only golive's stand-in records"
            )
        faults = [
            step.fault for step in [*experiment.method, *experiment.rollbacks] if step.fault is not None
        ]
        faulted = {fault.proxy for fault in faults}
        if any(fault.toxicity_scope == "chunk" and fault.toxicity < 1 for fault in faults) and not (
            self.rolls_per_chunk()
        ):
            reasons.append(
                "rolls its fault's dice per chunk (toxicity_scope: chunk), which only golive's Toxiproxy "
                "does (Toxiproxy itself ignores the field and would roll once per connection)"
            )
        unknown = sorted(faulted - self.proxies())
        if unknown:
            reasons.append(f"faults proxies the Toxiproxy does not have: {', '.join(unknown)}")
        if experiment.backend:
            config = self.runtime_config()
            if config is None:
                reasons.append(
                    "needs settings of its own, and the deployment does not answer GET /resilience/config"
                )
            else:
                fixed = [
                    f"{name}={value}" for name, value in experiment.env.items() if name.lower() not in config
                ]
                if fixed:
                    reasons.append(
                        f"needs {', '.join(fixed)} at start-up (golive changes a deployment's settings "
                        "at runtime only: those GET /resilience/config lists)"
                    )
        return "; ".join(reasons) or None

    def runtime_config(self) -> dict[str, Any] | None:
        """The settings the deployment can change at runtime, as it has them (GET /resilience/config),
        read once; None when it does not say."""
        if self._config is None:
            try:
                answer = http_clients.get(f"{self.url}/resilience/config", timeout=REQUEST_TIMEOUT_SECONDS)
                data = answer.json()["data"] if answer.status_code == 200 else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                data = None
            if not isinstance(data, dict):
                return None
            self._config = data
        return self._config

    def rolls_per_chunk(self) -> bool:
        """Whether the Toxiproxy is golive's, which can roll a toxic's dice per chunk; told apart
        from Toxiproxy itself by a route only golive's has (GET /proxies/{name}/stats)."""
        if self._per_chunk is None:
            try:
                answer = http_clients.get(f"{self.toxiproxy}/proxies/{PROXIES[0]}/stats", timeout=10)
            except httpx.HTTPError:
                return False
            self._per_chunk = answer.status_code == 200
        return self._per_chunk

    def proxies(self) -> set[str]:
        """The Toxiproxy's proxies, read once."""
        if self._proxies is None:
            client = ToxiproxyClient(self.toxiproxy)
            try:
                self._proxies = set(client.proxies())
            except (httpx.HTTPError, ValueError, RuntimeError):
                return set()
            finally:
                client.close()
        return self._proxies

    # --- a run ----------------------------------------------------------------------------------

    @contextmanager
    def prepared(self, experiment: Experiment) -> Iterator[Target]:
        with http_clients.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            tokens = {role: self._log_in(http, role) for role in ("user", "admin")}
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            user_id = self._user_id(http, tokens["user"])
            original = self._current_config(http)
            changes = self._settings(experiment, original)
            toxiproxy = ToxiproxyClient(self.toxiproxy)
            try:
                toxiproxy.reset()  # what an earlier run that was killed may have left
                self._configure(http, admin, changes)
                self._reset_breakers(http, admin)
                self._call(http, "POST", f"/rate-limit/reset/user-{user_id}", headers=admin)
                yield Target(
                    sut_urls=[self.url],
                    toxiproxy=toxiproxy,
                    upstream=None,
                    tokens=tokens,
                    content_rows=ContentWrittenSince(self.url, tokens["user"]),
                    proxies=self.proxies(),
                    metric_samples=METRIC_SAMPLES,
                )
            finally:
                with shielded():
                    problem = self._undo(http, admin, toxiproxy, {name: original[name] for name in changes})
            # Reached only when the run itself raised nothing: its own error is the one to tell.
            if problem is not None:
                raise TargetError(problem)

    def _undo(
        self, http: httpx.Client, admin: dict[str, str], toxiproxy: ToxiproxyClient, settings: dict[str, Any]
    ) -> str | None:
        """No fault left, the deployment's own settings back, its breakers closed; what could not
        be done, if anything."""
        try:
            toxiproxy.reset()
            self._configure(http, admin, settings, patient=True)
            self._reset_breakers(http, admin)
        except (TargetError, httpx.HTTPError, RuntimeError) as error:
            return f"the deployment was not put back as it was ({settings}): {error}"
        finally:
            toxiproxy.close()
        return None

    def _log_in(self, http: httpx.Client, role: str) -> str:
        credentials = self.users.get(role)
        if credentials is None:
            raise TargetError(f"no {role} account (set $GOLIVE_{role.upper()}_USERNAME/PASSWORD)")
        answer = self._call(http, "POST", "/api/v1/auth/token", json=credentials.model_dump(), expect=None)
        if answer.status_code != 200:
            raise TargetError(
                f"log-in of the {role} account {credentials.username!r} failed: HTTP {answer.status_code}"
            )
        token: str = answer.json()["data"]["access_token"]
        return token

    def _user_id(self, http: httpx.Client, token: str) -> int:
        answer = self._call(http, "GET", "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        user_id: int = answer.json()["data"]["id"]
        return user_id

    def _current_config(self, http: httpx.Client) -> dict[str, Any]:
        config: dict[str, Any] = self._call(http, "GET", "/resilience/config").json()["data"]
        return config

    @staticmethod
    def _settings(experiment: Experiment, config: Mapping[str, Any]) -> dict[str, Any]:
        """The runtime settings to change for the run: the stack's rate-limit headroom (the
        experiments are written for a backend whose limiter does not count their traffic), then
        the experiment's own; each as the JSON type the deployment has it in, and only where it
        differs."""
        wanted: dict[str, Any] = {name.lower(): value for name, value in FUNCTIONAL_HEADROOM.items()}
        wanted |= {name.lower(): value for name, value in experiment.backend.items()}
        changes = {}
        for name, value in wanted.items():
            if name in config:
                typed = _as_type_of(config[name], value)
                if typed != config[name]:
                    changes[name] = typed
        return changes

    def _configure(
        self, http: httpx.Client, admin: dict[str, str], changes: dict[str, Any], *, patient: bool = False
    ) -> None:
        """Applies `changes` and waits until the deployment answers with them several times in a
        row (every replica behind its URL has them). `patient`: retries the change itself too (right
        after a fault, the shared store it goes through may still be coming back)."""
        if not changes:
            return
        deadline = time.monotonic() + CONFIG_TIMEOUT_SECONDS
        while True:
            answer = self._call(http, "POST", "/resilience/config", json=changes, headers=admin, expect=None)
            if answer.status_code == 200:
                break
            if not patient or time.monotonic() >= deadline:
                raise TargetError(
                    f"POST /resilience/config {changes} answered HTTP {answer.status_code}: "
                    f"{answer.text[:200]}"
                )
            time.sleep(0.5)
        seen = 0
        while seen < CONFIG_SEEN_IN_A_ROW:
            if time.monotonic() >= deadline:
                raise TargetError(
                    f"the deployment did not apply {changes} within {CONFIG_TIMEOUT_SECONDS:.0f} s"
                )
            config = self._current_config(http)
            seen = seen + 1 if all(config.get(name) == value for name, value in changes.items()) else 0
            time.sleep(0.1)

    def _reset_breakers(self, http: httpx.Client, admin: dict[str, str]) -> None:
        """Every breaker closed, as on a backend just started (they are shared: one reset holds
        for every replica)."""
        for name in self._call(http, "GET", "/circuit-breakers/status").json()["data"]["breakers"]:
            self._call(http, "POST", f"/circuit-breakers/{name}/reset", headers=admin)

    @staticmethod
    def _call(
        http: httpx.Client,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        expect: int | None = 200,
    ) -> httpx.Response:
        try:
            answer = http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as error:
            raise TargetError(f"{method} {path}: {type(error).__name__}: {error}") from None
        if expect is not None and answer.status_code != expect:
            raise TargetError(f"{method} {path} answered HTTP {answer.status_code}: {answer.text[:200]}")
        return answer


def _as_type_of(current: Any, value: str | int | float | bool) -> Any:
    """`value` (a YAML value, or an environment variable's text) as the JSON type of `current`:
    POST /resilience/config is strict about types."""
    if isinstance(current, bool):
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(current, int):
        return int(float(value)) if isinstance(value, str) else int(value)
    if isinstance(current, float):
        return float(value)
    return value


class ContentWrittenSince:
    """The user's content written after this was made (content id -> status), as the deployment
    lists it (newest first): what the write checks count, with nothing the account held before."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.before = {job["id"] for job in self._page(0)}

    def __call__(self) -> dict[str, str]:
        rows: dict[str, str] = {}
        for number in range(CONTENT_PAGES):
            page = self._page(number * CONTENT_PAGE)
            for job in page:
                if job["id"] in self.before:
                    return rows
                rows[str(job["id"])] = str(job["status"])
            if len(page) < CONTENT_PAGE:
                return rows
        return rows

    def _page(self, offset: int) -> list[dict[str, Any]]:
        answer = http_clients.get(
            f"{self.url}/api/v1/content",
            params={"limit": CONTENT_PAGE, "offset": offset},
            headers=self.headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        if answer.status_code != 200:
            raise TargetError(f"GET /api/v1/content answered HTTP {answer.status_code}")
        page: list[dict[str, Any]] = answer.json()["data"]
        return page
