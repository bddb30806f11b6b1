"""The flags drill: the guide's partial rollback ("Disable New Features"), proved by behaviour.

For each flag, one backend with the feature on and one restarted with it off, the same probe
against both: the probe must see the feature on the first (so it can see it at all) and not on
the second, and the backend with the feature off must still do its job (health, log-in, content
generation and reading). Each probe is a small type behind one interface, like a Toxiproxy toxic.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import psycopg
from sqlalchemy.exc import SQLAlchemyError
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from golive.core import http_clients
from golive.core.drill_evidence import Step
from golive.drills.alembic_steps import Migrator
from golive.drills.database import DrillDatabase
from golive.drills.result import DrillResult
from golive.fixtures.accounts import new_credentials
from golive.fixtures.description import Credentials
from golive.fixtures.operations import create_users
from golive.fixtures.processes import ProcessError
from golive.fixtures.stack import Stack
from golive.fixtures.sut import SutCluster
from golive.fixtures.upstream.control import UpstreamControl, UpstreamServer

Progress = Callable[[str], None]
WAIT_SECONDS = 10.0


@dataclass
class Session:
    """What a probe gets: one running backend, a user of it, the AI-service stand-in it calls."""

    http: httpx.Client
    user: dict[str, str]  # Authorization headers
    admin: dict[str, str]
    upstream: UpstreamControl

    def generate(self, prompt: str) -> httpx.Response:
        return self.http.post("/api/v1/content/generate", headers=self.user, json={"prompt": prompt})


@dataclass
class Observation:
    seen: bool  # the feature acted
    detail: str
    problems: list[str] = field(default_factory=list)  # wrong whatever the flag says


class Probe(Protocol):
    flag: str
    feature: str  # what `seen` means, as the report says it
    env: dict[str, str]  # settings that make the feature quick to see, on both backends

    def observe(self, session: Session) -> Observation: ...


class CircuitBreakerProbe:
    flag = "CIRCUIT_BREAKER_ENABLED"
    feature = "the AI service's breaker opens after repeated failures (CIRCUIT_OPEN)"
    env = {"CIRCUIT_BREAKER_FAILURE_THRESHOLD": "3", "RETRY_MAX_ATTEMPTS": "1"}
    calls = 8

    def observe(self, session: Session) -> Observation:
        session.upstream.reset()
        session.upstream.program(error_rate=1.0, error_status=500)
        try:
            codes = [_code(session.generate(f"failing call {index}")) for index in range(self.calls)]
            reached = session.upstream.stats().calls
        finally:
            session.upstream.reset()
            # The breakers' state outlives the backend (Redis, Postgres): the next one starts closed.
            _reset_breakers(session)
        seen = "CIRCUIT_OPEN" in codes
        problems = [] if seen or reached >= self.calls else [f"{reached} of {self.calls} calls reached it"]
        return Observation(seen, f"{dict(Counter(codes))}; {reached} calls reached the AI service", problems)


class RateLimitProbe:
    flag = "RATE_LIMIT_ENABLED"
    feature = "a burst beyond the limit is answered 429 RATE_LIMIT_EXCEEDED"
    env = {"RATE_LIMIT_REQUESTS_PER_MINUTE": "6", "RATE_LIMIT_BURST_SIZE": "3"}
    calls = 12

    def observe(self, session: Session) -> Observation:
        codes = [_code(session.http.get("/api/v1/auth/me", headers=session.user)) for _ in range(self.calls)]
        return Observation("RATE_LIMIT_EXCEEDED" in codes, str(dict(Counter(codes))))


class PusherProbe:
    flag = "PUSHER_ENABLED"
    feature = "Pusher serves real time (/pusher/auth signs; /ws/content is closed 4410)"
    env: dict[str, str] = {}

    def observe(self, session: Session) -> Observation:
        me = session.http.get("/api/v1/auth/me", headers=session.user).json()["data"]
        auth = session.http.post(
            "/pusher/auth",
            headers=session.user,
            data={"socket_id": "1234.5678", "channel_name": f"private-user-{me['id']}"},
        )
        signs = auth.status_code == 200 and "auth" in auth.json()
        url = str(session.http.base_url).replace("http://", "ws://", 1).rstrip("/") + "/ws/content"
        with connect(url, open_timeout=WAIT_SECONDS) as socket:
            if signs:
                closed = _close_code(socket)
                detail = f"/pusher/auth {auth.status_code}; /ws/content closed {closed}"
                problems = [] if closed == 4410 else [f"/ws/content was not closed 4410 ({closed})"]
                return Observation(True, detail, problems)
            problems = [] if auth.status_code == 503 else [f"/pusher/auth answered {auth.status_code}"]
            delivered = _legacy_delivery(session, socket)
            problems += [] if delivered == "content_completed" else [f"/ws/content received {delivered}"]
            detail = f"/pusher/auth {auth.status_code}; /ws/content delivered {delivered}"
            return Observation(False, detail, problems)


PROBES: tuple[Probe, ...] = (CircuitBreakerProbe(), RateLimitProbe(), PusherProbe())


class FlagsDrill:
    def __init__(
        self,
        database: DrillDatabase,
        stack: Stack,
        *,
        probes: tuple[Probe, ...] = PROBES,
        progress: Progress = lambda message: None,
    ) -> None:
        self.database = database
        self.stack = stack
        self.probes = probes
        self.progress = progress
        self.result = DrillResult(drill="flags", settings={"flags": [probe.flag for probe in probes]})
        self.log_dir = stack.log_dir / "drills" / "flags"
        self.users: dict[str, Credentials] = {
            role: new_credentials(f"golive-drill-{role}") for role in ("user", "admin")
        }

    def run(self) -> DrillResult:
        upstream = None
        try:
            self.progress("database at head, a user")
            Migrator(self.database.dsn).run("upgrade", "head")
            create_users(self.database.dsn, self.users)
            upstream = UpstreamServer(self.log_dir).start()
            for probe in self.probes:
                self.result.steps.append(self._drill(probe, upstream.url))
        except (
            psycopg.Error,
            SQLAlchemyError,
            httpx.HTTPError,
            WebSocketException,
            OSError,
            ProcessError,
        ) as error:
            self.result.error = f"{type(error).__name__}: {error}"
        finally:
            if upstream is not None:
                upstream.stop()
        return self.result.finish()

    def _drill(self, probe: Probe, upstream_url: str) -> Step:
        step = Step(name=f"{probe.flag}=false")
        started = time.perf_counter()
        observed = {}
        for value in ("true", "false"):
            self.progress(f"{probe.flag}={value}")
            cluster = self._start({**probe.env, probe.flag: value}, upstream_url, f"{probe.flag}-{value}")
            try:
                with http_clients.Client(base_url=cluster.urls[0], timeout=30) as http:
                    session = Session(
                        http,
                        self._login(http, "user"),
                        self._login(http, "admin"),
                        UpstreamControl(upstream_url),
                    )
                    try:
                        observed[value] = probe.observe(session)
                        if value == "false":
                            step.check("with the flag off, the rest works", _works(session))
                    finally:
                        session.upstream.close()
            finally:
                cluster.stop()
        on, off = observed["true"], observed["false"]
        step.figures = {"feature": probe.feature, "on": on.detail, "off": off.detail}
        step.check(f"with {probe.flag}=true: {probe.feature}", on.problems + ([] if on.seen else [on.detail]))
        step.check(f"with {probe.flag}=false: it does not", off.problems + ([off.detail] if off.seen else []))
        step.seconds = round(time.perf_counter() - started, 3)
        return step

    def _start(self, env: dict[str, str], upstream_url: str, name: str) -> SutCluster:
        settings = {
            **self.stack.sut_env,
            "DATABASE_URL": self.database.dsn,
            "REDIS_URL": self.stack.scratch_redis_url(),
            "AI_SERVICE_URL": upstream_url,
            **env,
        }
        return SutCluster(settings, self.log_dir / name, self.stack.run_dir / "sut").start(1)

    def _login(self, http: httpx.Client, role: str) -> dict[str, str]:
        response = http.post("/api/v1/auth/token", json=self.users[role].model_dump())
        if response.status_code != 200:
            raise httpx.HTTPError(f"login failed: {response.status_code} {response.text[:200]}")
        return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


def _works(session: Session) -> list[str]:
    """Health, and a content generation read back."""
    problems = []
    health = session.http.get("/health")
    if health.status_code != 200:
        problems.append(f"GET /health: {health.status_code}")
    created = session.generate("the rest still works")
    if created.status_code != 201:
        return [*problems, f"POST /api/v1/content/generate: {created.status_code} {_code(created)}"]
    content_id = created.json()["data"]["id"]
    read = session.http.get(f"/api/v1/content/{content_id}", headers=session.user)
    if read.status_code != 200 or read.json()["data"]["status"] != "completed":
        problems.append(f"GET /api/v1/content/{{id}}: {read.status_code}")
    return problems


def _reset_breakers(session: Session) -> None:
    status = session.http.get("/circuit-breakers/status", headers=session.admin)
    status.raise_for_status()
    for name in status.json()["data"]["breakers"]:
        session.http.post(f"/circuit-breakers/{name}/reset", headers=session.admin).raise_for_status()


def _code(response: httpx.Response) -> str:
    """The envelope's error code, or the status for a success."""
    if response.is_success:
        return str(response.status_code)
    try:
        return str(response.json()["metadata"]["error_code"])
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} (no envelope)"


def _close_code(socket: ClientConnection) -> int | None:
    try:
        socket.recv(timeout=WAIT_SECONDS)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None  # a message instead of a close


def _legacy_delivery(session: Session, socket: ClientConnection) -> str:
    """Generates content and returns the last event of that job /ws/content delivered."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not _listening(session.http):  # the replica announces neither: poll, bounded
        if time.monotonic() > deadline:
            return "nothing: the socket was never counted"
        time.sleep(0.02)
    created = session.generate("over the legacy socket")
    if created.status_code != 201:
        return f"nothing: generate answered {created.status_code}"
    job = created.json()["data"]["id"]
    last = "nothing"
    try:
        while time.monotonic() < deadline:
            message = _json(socket.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if message.get("data", {}).get("job_id") == job:
                last = str(message.get("event"))
                if last == "content_completed":
                    break
    except (TimeoutError, ConnectionClosed):
        pass
    return last


def _listening(http: httpx.Client) -> bool:
    legacy = http.get("/pusher/status").json()["data"]["legacy_websocket"]
    return bool(legacy and legacy["listening"] and legacy["clients"] >= 1)


def _json(frame: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(frame)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
