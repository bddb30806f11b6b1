"""Runs one experiment against one target and journals everything that happened.

Order: steady state (must hold, or nothing is injected), the method's steps, recovery (the
steady state again, timed from the moment the faults went away), the checks. Rollbacks always
run, also after a failure or Ctrl-C, and every fault on the proxies is removed at the end.

A target may have several replicas: each request goes to the replica its step names (or to each
in turn), probes hold on every replica, and every replica's breakers are sampled; the journal
says which replica answered what.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from golive.chaos.checkers import run_checks
from golive.chaos.experiment import Experiment, Probe, Request, Step, Traffic, WaitFor
from golive.chaos.journal import Journal
from golive.core import http_clients
from golive.core.chaos_evidence import RECOVERY_SECONDS, Activity, Check, RequestRecord
from golive.core.contract_rules import response_problems
from golive.core.signals import shielded
from golive.fixtures.toxiproxy import ToxiproxyClient
from golive.fixtures.upstream.control import UpstreamControl

# (URL, the replica's own id) -> dependency -> (retries, trips) it has counted since it started.
ReplicaCounts = dict[tuple[str, str], dict[str, tuple[float, float]]]

REQUEST_TIMEOUT_SECONDS = 30.0
SAMPLE_SECONDS = 0.1
RECOVERY_GRACE_SECONDS = 10.0  # how long past the expected recovery the runner keeps probing


@dataclass
class Target:
    sut_urls: list[str]  # one per replica of the backend, in the order of their logs
    toxiproxy: ToxiproxyClient
    upstream: UpstreamControl | None
    tokens: dict[str, str]
    content_rows: Callable[[], dict[str, str]]
    proxies: set[str] = field(default_factory=set)
    database: str | None = None  # the backend's own database (direct, not through the proxy)
    # How many times each URL is asked for its replica's counts: more than once when the URL is a
    # load balancer's, each ask reaching one of the replicas behind it.
    metric_samples: int = 1


def breaker_states(client: httpx.Client) -> dict[str, str] | None:
    """Each breaker's state as one replica reports it; None when it did not answer with them."""
    try:
        breakers = client.get("/circuit-breakers/status").json()["data"]["breakers"]
        return {name: str(status["state"]) for name, status in breakers.items()}
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return None  # the backend is what is being broken: a missed sample is no error


class BreakerSampler(threading.Thread):
    """Polls every replica's breakers and journals each change of state: the breaker line of the
    timeline, one per replica (whether they agree is what shared state is about)."""

    def __init__(self, target: Target, journal: Journal) -> None:
        super().__init__(name="breaker-sampler", daemon=True)
        self.target, self.journal = target, journal
        self.stopped = threading.Event()
        self.states: dict[tuple[int, str], str] = {}

    def run(self) -> None:
        clients = [http_clients.Client(base_url=url, timeout=5) for url in self.target.sut_urls]
        try:
            while not self.stopped.wait(SAMPLE_SECONDS):
                for replica, client in enumerate(clients):
                    for name, state in (breaker_states(client) or {}).items():
                        if self.states.get((replica, name)) != state:
                            self.states[replica, name] = state
                            self.journal.event("breaker", breaker=name, state=state, replica=replica)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)


class UpstreamWitness:
    """Which requests reached the AI-service stand-in. It keeps the X-Request-ID of its last calls
    (the backend passes each request's on), so one look after a traffic step tells for each of the
    step's requests. The stand-in is the stack's: experiments run one at a time, so the calls it
    saw meanwhile are theirs."""

    def __init__(self, control: UpstreamControl) -> None:
        self.control = control
        self.calls = control.stats().calls

    def mark(self, records: Sequence[RequestRecord]) -> None:
        stats = self.control.stats()
        new_calls, self.calls = stats.calls - self.calls, stats.calls
        seen = set(stats.request_ids)
        # More calls than it remembers (or a reset in between): one it does not list may still
        # have reached it.
        remembers_all = 0 <= new_calls <= len(stats.request_ids)
        for record in records:
            if record.request_id in seen:
                record.reached_upstream = True
            elif remembers_all and record.request_id is not None:
                record.reached_upstream = False


class Runner:
    def __init__(
        self, experiment: Experiment, target: Target, seed: int | None = None, *, shared: bool = False
    ) -> None:
        """`shared`: other traffic (a load run) reaches the target's backend meanwhile."""
        self.experiment = experiment
        self.target = target
        self.shared = shared
        self.journal = Journal(
            experiment=experiment.name, title=experiment.title, seed=seed, replicas=len(target.sut_urls)
        )
        self._local = threading.local()
        self._faults_removed_at: float | None = None
        self._upstream: UpstreamWitness | None = None
        self._counts_before: ReplicaCounts = {}

    def run(self) -> Journal:
        sampler = BreakerSampler(self.target, self.journal)
        sampler.start()
        try:
            if len(self.target.sut_urls) < self.experiment.replicas:
                raise ValueError(
                    f"the experiment needs {self.experiment.replicas} replicas, "
                    f"the target has {len(self.target.sut_urls)}"
                )
            if self.target.upstream is not None:
                self._upstream = UpstreamWitness(self.target.upstream)
            self._counts_before = self._backend_counts()
            if not self._steady_state("steady-state-before"):
                self.journal.outcome = "steady-state-not-met"
                self.journal.checks = [self._unmet("the steady state held before the faults")]
                return self.journal
            for index, step in enumerate(self.experiment.method):
                self.journal.event("step", index=index, action=step.action)
                with self.journal.activity("action", _definition(step), self.journal.run):
                    self._step(index, step)
            self._remove_faults()
            self._recover()
            self._read_backend_figures()
            self.journal.checks = run_checks(
                self.journal,
                self.experiment.expectations,
                self.target.content_rows,
                self.experiment.method,
                shared=self.shared,
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
            self._traffic(index, step.traffic)
        elif step.wait_seconds is not None:
            time.sleep(step.wait_seconds)
        elif step.wait_for is not None:
            self._wait_for(step.wait_for)
        elif step.remove_faults:
            self._remove_faults()
        elif step.upstream is not None:
            if self.target.upstream is None:
                raise ValueError(f"step {index}: this target has no programmable AI-service stand-in")
            self.target.upstream.program(**step.upstream)
            self.journal.event("upstream-programmed", **step.upstream)
        elif step.reset_breakers:
            self._reset_breakers()

    def _replicas(self, replica: int | None) -> list[int]:
        """The replica named, or all of them."""
        return list(range(len(self.target.sut_urls))) if replica is None else [replica]

    def _traffic(self, index: int, traffic: Traffic) -> None:
        deadline = time.monotonic() + traffic.max_seconds
        replicas = self._replicas(traffic.replica)
        futures = []
        with ThreadPoolExecutor(traffic.concurrency, thread_name_prefix="traffic") as pool:
            for number in range(traffic.count):
                if time.monotonic() >= deadline:
                    self.journal.event("traffic-cut", reason=f"{traffic.max_seconds} s limit")
                    break
                replica = replicas[number % len(replicas)]
                futures.append(pool.submit(self._send, traffic.request, "method", replica, index))
        if self._upstream is not None:
            self._upstream.mark([future.result() for future in futures])

    def _wait_for(self, wait_for: WaitFor) -> None:
        """Until each replica named has reported the state (each at its own moment), or the timeout."""
        pending = self._replicas(wait_for.replica)
        clients = {
            replica: http_clients.Client(base_url=self.target.sut_urls[replica], timeout=5)
            for replica in pending
        }
        deadline = time.monotonic() + wait_for.timeout_seconds
        try:
            while pending and time.monotonic() < deadline:
                pending = [
                    replica
                    for replica in pending
                    if (breaker_states(clients[replica]) or {}).get(wait_for.breaker) != wait_for.state
                ]
                if pending:
                    time.sleep(SAMPLE_SECONDS)
        finally:
            for client in clients.values():
                client.close()
        named = {"breaker": wait_for.breaker, "state": wait_for.state}
        if pending:
            self.journal.event("wait-timed-out", **named, replicas=pending)
        else:
            self.journal.event("waited", **named, replicas=self._replicas(wait_for.replica))

    def _remove_faults(self) -> None:
        if self._faults_removed_at is None:
            self.target.toxiproxy.reset()
            self._faults_removed_at = time.monotonic()
            self.journal.event("faults-removed")

    def _reset_breakers(self) -> None:
        """On every replica: shared breakers need one reset, but a backend that does not share
        them must not be judged on the replica that happened to be asked."""
        headers = {"Authorization": f"Bearer {self.target.tokens['admin']}"}
        for url in self.target.sut_urls:
            with http_clients.Client(
                base_url=url, timeout=REQUEST_TIMEOUT_SECONDS, headers=headers
            ) as client:
                for name in client.get("/circuit-breakers/status").json()["data"]["breakers"]:
                    client.post(f"/circuit-breakers/{name}/reset")
        self.journal.event("breakers-reset")

    # --- steady state and recovery -------------------------------------------------------------

    def _steady_state(self, phase: str) -> bool:
        """Probes in order, up to the first that fails (as Chaos Toolkit's hypothesis does)."""
        probes: list[Activity] = []
        for probe in self.experiment.steady_state:
            if not all(
                self._probe(probe, phase, replica, probes) for replica in self._replicas(probe.replica)
            ):
                break
        self.journal.steady_state(phase, probes)
        return all(result.tolerance_met for result in probes)

    def _probe(self, probe: Probe, phase: str, replica: int, into: list[Activity]) -> bool:
        definition = {**probe.model_dump(mode="json", exclude_none=True), "replica": replica}
        with self.journal.activity("probe", definition, into) as result:
            record = self._send(probe.request, phase, replica)
            ok = record.status in probe.expect.status and (
                probe.expect.max_latency_ms is None or record.latency_ms <= probe.expect.max_latency_ms
            )
            result.output = {"status": record.status, "latency_ms": record.latency_ms}
            result.status = "succeeded" if record.status else "failed"  # 0: no answer at all
            result.tolerance_met = ok
        self.journal.event(
            "probe",
            name=probe.name,
            phase=phase,
            ok=ok,
            status=record.status,
            replica=replica,
            answer=_answer(probe, record),
        )
        return ok

    def _unmet(self, name: str) -> Check:
        """The steady state's first failing probe as a failed check: what it was answered."""
        failed = [event for event in self.journal.events if event.kind == "probe" and not event.detail["ok"]]
        detail = failed[-1].detail if failed else {}
        return Check(name=name, ok=False, detail=f"probe {detail.get('name')!r}: {detail.get('answer')}")

    def _recover(self) -> None:
        expected = self.experiment.expectations.recovery_within_seconds
        started = self._faults_removed_at or time.monotonic()
        deadline = started + (expected or 0) + RECOVERY_GRACE_SECONDS
        while True:
            if self._steady_state("steady-state-after"):
                self.journal.figures[RECOVERY_SECONDS] = round(time.monotonic() - started, 3)
                return
            if time.monotonic() >= deadline:
                self.journal.figures[RECOVERY_SECONDS] = None
                return
            time.sleep(0.2)

    def _backend_counts(self) -> ReplicaCounts:
        """Each replica's counts since it started (retries, trips), keyed by its URL and the id
        it reports: the URL may be a load balancer's, with several replicas behind it."""
        counts: ReplicaCounts = {}
        for url in self.target.sut_urls:
            for _ in range(self.target.metric_samples):
                try:
                    metrics = http_clients.get(f"{url}/resilience/metrics", timeout=10).json()["data"]
                    counts[url, str(metrics.get("replica"))] = {
                        name: (figures["retries"], figures["trips"])
                        for name, figures in metrics["dependencies"].items()
                    }
                except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
                    continue
        return counts

    def _read_backend_figures(self) -> None:
        """The backend's own counts (retries, trips) for the checks that need its view, as made
        during the run: each replica's now less what it had counted before the run (a deployment's
        replicas have counted since they started), for the replicas seen both times only, so that
        nothing from before the run is ever counted. Retries are each replica's own and add up;
        trips are of the shared breaker, the same everywhere."""
        retries: dict[str, float] = {}
        trips: dict[str, float] = {}
        for replica, now in self._backend_counts().items():
            before = self._counts_before.get(replica)
            if before is None:
                continue
            for name, (retried, tripped) in now.items():
                retried_before, tripped_before = before.get(name, (0, 0))
                if retried < retried_before or tripped < tripped_before:
                    retried_before = tripped_before = 0  # it restarted during the run: all is new
                retries[name] = retries.get(name, 0) + retried - retried_before
                trips[name] = max(trips.get(name, 0), tripped - tripped_before)
        for name in retries:
            self.journal.figures[f"{name}.retries"] = retries[name]
            self.journal.figures[f"{name}.trips"] = trips[name]

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

    def _client(self, replica: int) -> httpx.Client:
        """This thread's client of the replica: each traffic thread keeps its own connections."""
        clients: dict[int, httpx.Client] | None = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        if replica not in clients:
            clients[replica] = http_clients.Client(
                base_url=self.target.sut_urls[replica], timeout=REQUEST_TIMEOUT_SECONDS
            )
        return clients[replica]

    def _send(self, request: Request, phase: str, replica: int, step: int | None = None) -> RequestRecord:
        request_id = f"chaos-{uuid.uuid4().hex[:16]}"
        headers = {"X-Request-ID": request_id, **request.headers}
        if request.auth != "anonymous":
            headers["Authorization"] = f"Bearer {self.target.tokens[request.auth]}"
        at = self.journal.now()
        started = time.perf_counter()
        try:
            response = self._client(replica).request(
                request.method, request.path, json=request.body, headers=headers
            )
        except httpx.HTTPError:
            record = RequestRecord(
                at=at,
                phase=phase,
                method=request.method,
                path=request.path,
                status=0,
                latency_ms=_ms(started),
                error_code=None,
                request_id=None,
                problems=[],
                writes=request.writes_content,
            )
        else:
            record = _record(at, phase, request, response, _ms(started), request_id)
        record.replica, record.step = replica, step
        self.journal.requests.append(record)  # list.append is atomic: threads may share it
        return record


def _definition(step: Step) -> dict[str, Any]:
    return {"name": step.action, **step.model_dump(mode="json", exclude_none=True)}


def _answer(probe: Probe, record: RequestRecord) -> str:
    """What a probe was answered against what it expects, in a reader's words: '503 CIRCUIT_OPEN
    in 4 ms on replica 0 (expected 201 within 2000 ms)'."""
    got = "no answer" if record.status == 0 else f"{record.status} {record.error_code or ''}".rstrip()
    expected = " or ".join(map(str, probe.expect.status))
    if probe.expect.max_latency_ms is not None:
        expected += f" within {probe.expect.max_latency_ms:g} ms"
    return f"{got} in {record.latency_ms:.0f} ms on replica {record.replica} (expected {expected})"


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
