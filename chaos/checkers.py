"""Checks over a recorded history. Each returns a verdict with the evidence in words; none raise.

The writes check asks the database, everything else reads the journal only. A traffic step's own
expectation is judged on that step's requests alone, and says which replica answered what.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Sequence

from golive.chaos.experiment import Expectations, Step, Traffic, TrafficExpectation
from golive.chaos.journal import Journal
from golive.core.chaos_evidence import Check, RequestRecord

ContentRows = Callable[[], dict[str, str]]  # content id -> status, for the experiment's user


def run_checks(
    journal: Journal,
    expectations: Expectations,
    content_rows: ContentRows,
    steps: Sequence[Step] = (),
    *,
    shared: bool = False,
) -> list[Check]:
    """`steps`: the method, for the expectations of its traffic steps. `shared`: other traffic
    (a load run) reached the same backend meanwhile."""
    method = [record for record in journal.requests if record.phase == "method"]
    checks: list[Check] = []
    if expectations.all_enveloped:
        outside = [record for record in journal.requests if record.status and record.problems]
        first = f", first: {describe(outside[0])}: {outside[0].problems[0]}" if outside else ""
        checks.append(
            Check(
                name="every answer is an envelope",
                ok=not outside,
                detail=f"{len(outside)} of {len(journal.requests)} answers broke the contract{first}",
            )
        )
    forbidden = [record for record in method if record.status in expectations.statuses_forbidden]
    checks.append(
        Check(
            name=f"no status among {expectations.statuses_forbidden}",
            ok=not forbidden,
            detail=f"{len(forbidden)} forbidden answers"
            + (f", first at {forbidden[0].at} s: {forbidden[0].status}" if forbidden else ""),
        )
    )
    unanswered = [record for record in method if record.status == 0]
    checks.append(
        Check(
            name="every request was answered",
            ok=not unanswered,
            detail=f"{len(unanswered)} without an answer",
        )
    )
    codes = {record.error_code for record in method if record.error_code}
    if expectations.error_codes_allowed is not None:
        unexpected = codes - set(expectations.error_codes_allowed)
        checks.append(
            Check(
                name="only the allowed error codes",
                ok=not unexpected,
                detail=f"seen {sorted(codes)}; unexpected {sorted(unexpected)}",
            )
        )
    for code in expectations.error_codes_required:
        count = sum(1 for record in method if record.error_code == code)
        checks.append(Check(name=f"{code} was answered", ok=count > 0, detail=f"{count} times"))
    if expectations.max_latency_ms is not None:
        slowest = max((record.latency_ms for record in method), default=0.0)
        checks.append(
            Check(
                name=f"every answer within {expectations.max_latency_ms:.0f} ms",
                ok=slowest <= expectations.max_latency_ms,
                detail=f"slowest {slowest:.1f} ms",
            )
        )
    if expectations.max_latency_ms_while_open is not None:
        fast_fails = [record.latency_ms for record in method if record.error_code == "CIRCUIT_OPEN"]
        slowest = max(fast_fails, default=0.0)
        journal.figures["slowest_circuit_open_ms"] = round(slowest, 3) if fast_fails else None
        checks.append(
            Check(
                name=f"refusals while open within {expectations.max_latency_ms_while_open:.0f} ms",
                ok=bool(fast_fails) and slowest <= expectations.max_latency_ms_while_open,
                detail=f"{len(fast_fails)} refusals, slowest {slowest:.1f} ms",
            )
        )
    changes = [event.breaker for event in journal.events if event.kind == "breaker"]
    opened = {change.breaker for change in changes if change is not None and change.state == "OPEN"}
    for name in expectations.breakers_opened:
        checks.append(
            Check(
                name=f"breaker {name} opened", ok=name in opened, detail=f"opened: {sorted(opened) or 'none'}"
            )
        )
    if expectations.min_success_ratio is not None and method:
        ratio = sum(1 for record in method if 200 <= record.status < 300) / len(method)
        journal.figures["success_ratio"] = round(ratio, 4)
        checks.append(
            Check(
                name=f"at least {expectations.min_success_ratio:.0%} succeeded",
                ok=ratio >= expectations.min_success_ratio,
                detail=f"{ratio:.1%}",
            )
        )
    for dependency, least in expectations.retries_at_least.items():
        retries = journal.figures.get(f"{dependency}.retries")
        checks.append(
            Check(
                name=f"{dependency} retried at least {least} times",
                ok=retries is not None and retries >= least,
                detail="the backend did not say" if retries is None else f"{retries:.0f} retries",
            )
        )
    if expectations.recovery_within_seconds is not None:
        recovery = journal.recovery_seconds
        checks.append(
            Check(
                name=f"recovered within {expectations.recovery_within_seconds:.1f} s",
                ok=recovery is not None and recovery <= expectations.recovery_within_seconds,
                detail="never recovered" if recovery is None else f"in {recovery:.2f} s",
            )
        )
    for index, step in enumerate(steps):
        if step.traffic is not None and step.traffic.expect is not None:
            mine = [record for record in method if record.step == index]
            checks.extend(_step(index, step.traffic, step.traffic.expect, mine, shared))
    if expectations.no_acknowledged_write_lost or expectations.no_duplicate_writes:
        checks.extend(_writes(journal, expectations, content_rows()))
    return checks


def describe(record: RequestRecord) -> str:
    code = f" {record.error_code}" if record.error_code else ""
    return (
        f"{record.method} {record.path} -> {record.status}{code} at {record.at} s on replica {record.replica}"
    )


def _step(
    index: int, traffic: Traffic, expect: TrafficExpectation, records: list[RequestRecord], shared: bool
) -> list[Check]:
    where = f"on replica {traffic.replica}" if traffic.replica is not None else "across the replicas"
    name = f"step {index} {where}"
    checks = []
    if expect.admitted is not None:
        admitted = [record for record in records if 200 <= record.status < 300]
        checks.append(
            Check(
                name=f"{name}: exactly {expect.admitted} admitted",
                ok=len(admitted) == expect.admitted,
                detail=f"{len(admitted)} of {len(records)} admitted ({_by_replica(admitted)})",
            )
        )
    if expect.error_code is not None:
        others = [record for record in records if record.error_code != expect.error_code]
        first = f"; first other: {describe(others[0])}" if others else ""
        checks.append(
            Check(
                name=f"{name}: every answer {expect.error_code}",
                ok=bool(records) and not others,
                detail=f"{len(records) - len(others)} of {len(records)}{first}",
            )
        )
    if expect.reached_upstream is not None:
        reached = [record for record in records if record.reached_upstream]
        unknown = sum(record.reached_upstream is None for record in records)
        # With other traffic, its failures count towards the same breaker: opened sooner, it lets
        # fewer of the step's own requests through, never more.
        bound, within = ("at most ", operator.le) if shared else ("", operator.eq)
        checks.append(
            Check(
                name=f"{name}: {bound}{expect.reached_upstream} requests reached the AI service",
                ok=within(len(reached), expect.reached_upstream) and not unknown,
                detail=f"{len(reached)} of {len(records)} reached it ({_by_replica(reached)})"
                + (f", {unknown} not known (no answer, or the stand-in did not remember)" if unknown else ""),
            )
        )
    return checks


def _by_replica(records: list[RequestRecord]) -> str:
    """How many each replica answered: what a reader needs when state is meant to be shared."""
    counts = Counter(record.replica for record in records)
    return ", ".join(f"replica {replica}: {count}" for replica, count in sorted(counts.items())) or "none"


def _writes(journal: Journal, expectations: Expectations, rows: dict[str, str]) -> list[Check]:
    writes = [record for record in journal.requests if record.writes]
    acknowledged = {record.content_id for record in writes if record.status == 201 and record.content_id}
    checks = []
    if expectations.no_acknowledged_write_lost:
        lost = sorted(content_id for content_id in acknowledged if rows.get(content_id) != "completed")
        checks.append(
            Check(
                name="no acknowledged write lost",
                ok=not lost,
                detail=f"{len(acknowledged)} acknowledged, {len(lost)} missing or not completed",
            )
        )
        # Nothing written that was not asked for: at most one job per request sent.
        checks.append(
            Check(
                name="nothing written that was not requested",
                ok=len(rows) <= len(writes),
                detail=f"{len(rows)} jobs for {len(writes)} requests",
            )
        )
    if expectations.no_duplicate_writes:
        completed = sum(1 for status in rows.values() if status == "completed")
        answered = sum(1 for record in writes if record.status)
        checks.append(
            Check(
                name="no duplicate writes",
                ok=completed <= answered and len(rows) <= len(writes),
                detail=f"{completed} completed jobs, {answered} answered requests, {len(rows)} jobs",
            )
        )
    return checks
