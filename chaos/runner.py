"""Runs one experiment against one target and journals everything that happened.

Order: steady state (must hold, or nothing is injected), the method's steps, recovery (the
steady state again, timed from the moment the faults went away), the checks. Rollbacks always
run, also after a failure or Ctrl-C, and every fault on the proxies is removed at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from golive.chaos.checkers import run_checks
from golive.chaos.experiment import Experiment, Probe, Request, Step
from golive.chaos.journal import Activity, Journal, RequestRecord
from golive.core.contract_rules import response_problems
from golive.core.signals import shielded
from golive.fixtures.toxiproxy import ToxiproxyClient
from golive.fixtures.upstream.control import UpstreamControl

REQUEST_TIMEOUT_SECONDS = 30.0
SAMPLE_SECONDS = 0.1
RECOVERY_GRACE_SECONDS = 10.0  # how long past the expected recovery the runner keeps probing


@dataclass
class Target:
    sut_url: str
    toxiproxy: ToxiproxyClient
    upstream: UpstreamControl | None
    tokens: dict[str, str]
    content_rows: Callable[[], dict[str, str]]
    proxies: set[str] = field(default_factory=set)
    database: str | None = None  # the backend's own database (direct, not through the proxy)


class BreakerSampler(threading.Thread):
    """Polls the breakers and journals each change of state: the breaker line of the timeline."""

    def __init__(self, target: Target, journal: Journal) -> None:
        super().__init__(name="breaker-sampler", daemon=True)
        self.target, self.journal = target, journal
        self.stopped = threading.Event()
        self.states: dict[str, str] = {}

    def run(self) -> None:
        with httpx.Client(base_url=self.target.sut_url, timeout=5) as client:
            while not self.stopped.wait(SAMPLE_SECONDS):
                try:
                    breakers = client.get("/circuit-breakers/status").json()["data"]["breakers"]
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    continue  # the backend is what is being broken: a missed sample is no error
                for name, status in breakers.items():
                    if self.states.get(name) != status["state"]:
                        self.states[name] = status["state"]
                        self.journal.event("breaker", breaker=name, state=status["state"])

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)


class Runner:
    def __init__(self, experiment: Experiment, target: Target, seed: int | None = None) -> None:
        self.experiment = experiment
        self.target = target
        self.journal = Journal(experiment.name, experiment.title, seed)
        self._local = threading.local()
        self._faults_removed_at: float | None = None

    def run(self) -> Journal:
        sampler = BreakerSampler(self.target, self.journal)
        sampler.start()
        try:
            if not self._steady_state("steady-state-before"):
                self.journal.outcome = "steady-state-not-met"
                return self.journal
            for index, step in enumerate(self.experiment.method):
                self.journal.event("step", index=index, action=step.action)
                with self.journal.activity("action", _definition(step), self.journal.run):
                    self._step(index, step)
            self._remove_faults()
            self._recover()
            self._read_backend_figures()
            self.journal.checks = run_checks(
                self.journal, self.experiment.expectations, self.target.content_rows
            )
            self.journal.outcome = "held" if all(check.ok for check in self.journal.checks) else "deviated"
        except KeyboardInterrupt:
            self.journal.outcome = "aborted"
            raise
        except Exception as error:  # a broken step: the experiment could not run as written
            self.journal.outcome = "error"
            self.journal.event("error", error=f"{type(error).__name__}: {error}")
        finally:
            with shielded():
                self._roll_back()
                sampler.stop()
                self.journal.duration_seconds = self.journal.now()
        return self.journal

    # --- steps ---------------------------------------------------------------------------------

    def _step(self, index: int, step: Step) -> None:
        if step.fault is not None:
            fault = step.fault
            if fault.proxy not in self.target.proxies:
                raise ValueError(
                    f"step {index}: no proxy named {fault.proxy!r} (known: {sorted(self.target.proxies)})"
                )
            if fault.type == "down":
                self.target.toxiproxy.set_enabled(fault.proxy, False)
            else:
                self.target.toxiproxy.add_toxic(
                    fault.proxy,
                    fault.type,
                    fault.attributes,
                    stream=fault.stream,
                    toxicity=fault.toxicity,
                    toxicity_scope=fault.toxicity_scope,
                    name=f"chaos-{index}",
                )
            self._faults_removed_at = None
            self.journal.event("fault-added", **fault.model_dump())
        elif step.traffic is not None:
            self._traffic(
                step.traffic.request, step.traffic.count, step.traffic.concurrency, step.traffic.max_seconds
            )
        elif step.wait_seconds is not None:
            time.sleep(step.wait_seconds)
        elif step.wait_for is not None:
            self._wait_for(step.wait_for.breaker, step.wait_for.state, step.wait_for.timeout_seconds)
        elif step.remove_faults:
            self._remove_faults()
        elif step.upstream is not None:
            if self.target.upstream is None:
                raise ValueError(f"step {index}: this target has no programmable AI-service stand-in")
            self.target.upstream.program(**step.upstream)
            self.journal.event("upstream-programmed", **step.upstream)
        elif step.reset_breakers:
            self._reset_breakers()

    def _traffic(self, request: Request, count: int, concurrency: int, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        with ThreadPoolExecutor(concurrency, thread_name_prefix="traffic") as pool:
            for _ in range(count):
                if time.monotonic() >= deadline:
                    self.journal.event("traffic-cut", reason=f"{max_seconds} s limit")
                    break
                pool.submit(self._send, request, "method")

    def _wait_for(self, breaker: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.target.sut_url, timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    breakers = client.get("/circuit-breakers/status").json()["data"]["breakers"]
                    if breakers[breaker]["state"] == state:
                        self.journal.event("waited", breaker=breaker, state=state)
                        return
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    pass  # not an answer (throttled, failing): a missed sample
                time.sleep(SAMPLE_SECONDS)
        self.journal.event("wait-timed-out", breaker=breaker, state=state)

    def _remove_faults(self) -> None:
        if self._faults_removed_at is None:
            self.target.toxiproxy.reset()
            self._faults_removed_at = time.monotonic()
            self.journal.event("faults-removed")

    def _reset_breakers(self) -> None:
        headers = {"Authorization": f"Bearer {self.target.tokens['admin']}"}
        with httpx.Client(
            base_url=self.target.sut_url, timeout=REQUEST_TIMEOUT_SECONDS, headers=headers
        ) as client:
            for name in client.get("/circuit-breakers/status").json()["data"]["breakers"]:
                client.post(f"/circuit-breakers/{name}/reset")
        self.journal.event("breakers-reset")

    # --- steady state and recovery -------------------------------------------------------------

    def _steady_state(self, phase: str) -> bool:
        """Probes in order, up to the first that fails (as Chaos Toolkit's hypothesis does)."""
        probes: list[Activity] = []
        for probe in self.experiment.steady_state:
            if not self._probe(probe, phase, probes):
                break
        self.journal.steady_state(phase, probes)
        return all(result.tolerance_met for result in probes)

    def _probe(self, probe: Probe, phase: str, into: list[Activity]) -> bool:
        definition = probe.model_dump(mode="json", exclude_none=True)
        with self.journal.activity("probe", definition, into) as result:
            record = self._send(probe.request, phase)
            ok = record.status in probe.expect.status and (
                probe.expect.max_latency_ms is None or record.latency_ms <= probe.expect.max_latency_ms
            )
            result.output = {"status": record.status, "latency_ms": record.latency_ms}
            result.status = "succeeded" if record.status else "failed"  # 0: no answer at all
            result.tolerance_met = ok
        self.journal.event("probe", name=probe.name, phase=phase, ok=ok, status=record.status)
        return ok

    def _recover(self) -> None:
        expected = self.experiment.expectations.recovery_within_seconds
        started = self._faults_removed_at or time.monotonic()
        deadline = started + (expected or 0) + RECOVERY_GRACE_SECONDS
        while True:
            if self._steady_state("steady-state-after"):
                self.journal.figures["recovery_seconds"] = round(time.monotonic() - started, 3)
                return
            if time.monotonic() >= deadline:
                self.journal.figures["recovery_seconds"] = None
                return
            time.sleep(0.2)

    def _read_backend_figures(self) -> None:
        """The backend's own counts (retries, rejections) for the checks that need its view."""
        try:
            metrics = httpx.get(f"{self.target.sut_url}/resilience/metrics", timeout=10).json()["data"]
        except (httpx.HTTPError, ValueError, KeyError):
            return
        for name, figures in metrics["dependencies"].items():
            self.journal.figures[f"{name}.retries"] = figures["retries"]
            self.journal.figures[f"{name}.trips"] = figures["trips"]

    def _roll_back(self) -> None:
        rollbacks = self.journal.rollbacks
        for step in self.experiment.rollbacks:
            try:
                with self.journal.activity("action", _definition(step), rollbacks):
                    self._step(-1, step)
            except Exception as error:  # a rollback that fails must not stop the others
                self.journal.event("rollback-failed", action=step.action, error=str(error))
        try:
            # golive's own rollback, always: no fault and no programmed stand-in outlives the run.
            with self.journal.activity("action", {"name": "reset"}, rollbacks):
                self.target.toxiproxy.reset()
                if self.target.upstream is not None:
                    self.target.upstream.reset()
            self.journal.event("rolled-back")
        except Exception as error:
            self.journal.event("rollback-failed", action="reset", error=str(error))

    # --- requests ------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.target.sut_url, timeout=REQUEST_TIMEOUT_SECONDS)
            self._local.client = client
        return client

    def _send(self, request: Request, phase: str) -> RequestRecord:
        request_id = f"chaos-{uuid.uuid4().hex[:16]}"
        headers = {"X-Request-ID": request_id, **request.headers}
        if request.auth != "anonymous":
            headers["Authorization"] = f"Bearer {self.target.tokens[request.auth]}"
        at = self.journal.now()
        started = time.perf_counter()
        try:
            response = self._client().request(
                request.method, request.path, json=request.body, headers=headers
            )
        except httpx.HTTPError:
            record = RequestRecord(
                at,
                phase,
                request.method,
                request.path,
                0,
                _ms(started),
                None,
                None,
                [],
                None,
                request.writes_content,
            )
        else:
            record = _record(at, phase, request, response, _ms(started), request_id)
        self.journal.requests.append(record)  # list.append is atomic: threads may share it
        return record


def _definition(step: Step) -> dict[str, Any]:
    return {"name": step.action, **step.model_dump(mode="json", exclude_none=True)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _record(
    at: float, phase: str, request: Request, response: httpx.Response, latency: float, sent_id: str
) -> RequestRecord:
    error_code = content_id = None
    try:
        body = response.json()
        metadata = body.get("metadata") or {}
        error_code = metadata.get("error_code")
        data = body.get("data")
        content_id = (
            (data or {}).get("id")
            if isinstance(data, dict)
            else (metadata.get("details") or {}).get("content_id")
        )
    except (ValueError, AttributeError):
        pass
    return RequestRecord(
        at=at,
        phase=phase,
        method=request.method,
        path=request.path,
        status=response.status_code,
        latency_ms=latency,
        error_code=error_code,
        request_id=response.headers.get("x-request-id"),
        problems=response_problems(
            request.path, response.status_code, response.headers, response.content, sent_id
        ),
        content_id=str(content_id) if content_id else None,
        writes=request.writes_content,
    )
