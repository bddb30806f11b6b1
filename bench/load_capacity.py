"""Capacity of the reference backend on this machine, and the load generator's headroom.

For 1 and 2 backend replicas (uvicorn processes), the baseline profile's journey mix is run at
growing numbers of users; each step ramps up, settles for 15 s (the logins, argon2 on purpose,
would otherwise dominate), then holds for --hold seconds, measured from Locust's per-second
history. Capacity is the highest requests/s of a step with p95 under 100 ms and no failed
request. Locust's own CPU (all its processes, % of one core) says whether the generator or the
backend was the limit. The figure reported against the baseline: 2 replicas' capacity as a ratio
of 1 replica's, same command.

    .venv/bin/python bench/load_capacity.py [--users 50,100,200,400] [--hold 20] [--workers 0]

The figures close the output as bench/figures.py's table (bench/run.py prints every bench's so).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

from figures import Figure, table

from golive.fixtures.providers import create_provider
from golive.fixtures.stack import Stack
from golive.loadtests.accounts import create_accounts
from golive.loadtests.profiles import Profile, load_profile
from golive.loadtests.run import LoadError, LocustRun

NAME = "load_capacity"
P95_LIMIT_MS = 100.0
SETTLE = 15.0  # seconds after the ramp before the hold is measured


def step(
    stack: Stack,
    base: Profile,
    users: int,
    hold: float,
    workers: int,
    directory: Path,
    settle: float = SETTLE,
) -> dict[str, Any]:
    spawn_rate = max(10.0, users / 5)
    ramp = users / spawn_rate
    profile = Profile.model_validate(
        {
            **base.model_dump(),
            "users": users,
            "spawn_rate": spawn_rate,
            "run_time": int(ramp + settle + hold + 1),
        }
    )
    assert stack.sut is not None
    accounts_file = create_accounts(stack.app_dsn, users, f"bench-{users}").write(
        directory / f"accounts-{users}.json"
    )
    run = LocustRun(
        profile,
        stack.sut.urls,
        accounts_file,
        directory / f"users-{users}",
        directory / "logs",
        workers=workers,
    )
    run.start()
    try:
        result = run.result(run.wait(), [], [])
    finally:
        run.stop()
    # The steady state only: every user in and logged in (argon2, on purpose slow), then settled.
    begin = result.history[0].at + ramp + settle if result.history else 0
    steady = [second for second in result.history if second.at >= begin]
    if len(steady) < 2:
        raise LoadError(f"{users} users: no steady seconds in the history")
    p95s = [second.p95_ms for second in steady if second.p95_ms is not None]
    return {
        "users": users,
        "requests_per_second": round(sum(s.requests_per_second for s in steady) / len(steady), 1),
        "p95_ms": max(p95s) if p95s else None,  # Locust's sliding 10 s window: the worst of the hold
        "failures": steady[-1].failures - steady[0].failures,
        "locust_cpu_avg": result.generator.average,
        "locust_cpu_peak": result.generator.peak,
        "top_failures": _top_failures(directory / f"users-{users}" / "locust_failures.csv"),
    }


def _top_failures(path: Path) -> list[str]:
    with path.open(newline="") as stream:
        rows = sorted(csv.DictReader(stream), key=lambda row: -int(row["Occurrences"]))
    return [f"{row['Occurrences']}x {row['Name']}: {row['Error']}" for row in rows[:3]]


def capacity(
    replicas: int, ladder: list[int], hold: float, workers: int, settle: float = SETTLE
) -> dict[str, Any]:
    base = load_profile("baseline")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        stack = Stack(create_provider("local"), directory, replicas=replicas, env=base.backend_env).start()
        try:
            steps = []
            for users in ladder:
                try:
                    measured = step(stack, base, users, hold, workers, directory, settle)
                except LoadError as error:
                    measured = {"users": users, "error": str(error)}
                steps.append(measured)
                print(json.dumps({"replicas": replicas, **measured}), flush=True)
                if "error" in measured or measured["failures"] or (measured["p95_ms"] or 0) >= P95_LIMIT_MS:
                    break
        finally:
            stack.close()
    passing = [
        s for s in steps if "error" not in s and not s["failures"] and (s["p95_ms"] or 0) < P95_LIMIT_MS
    ]
    best = max(passing, key=lambda s: s["requests_per_second"], default=None)
    return {"replicas": replicas, "capacity": best, "steps": steps}


def figures_of(results: list[dict[str, Any]], what: str = "capacity") -> list[Figure]:
    one, two = (r["capacity"]["requests_per_second"] if r["capacity"] else None for r in results)
    name = f"backend: {what}, req/s at p95 < {P95_LIMIT_MS:.0f} ms (baseline: 1 replica; golive: 2)"
    if one is None or two is None:
        return [Figure.unavailable(name, "no step passed (see the steps above)")]
    return [Figure(name, one, two)]


def figures(quick: bool = False) -> list[Figure]:
    """For bench/run.py: the default ladder; with `quick` 20 users, 12 s settled (Locust's p95 is
    over a sliding 10 s: the logins must be out of it), 5 s held."""
    if importlib.util.find_spec("locust") is None:
        return [Figure.unavailable("backend: capacity", "needs Locust: pip install 'golive[load]'")]
    if quick:
        results = [capacity(replicas, [20], 5.0, 0, settle=12.0) for replicas in (1, 2)]
        return figures_of(results, "20 users (quick: a look, not the capacity)")
    results = [capacity(replicas, [50, 100, 200, 400], 20.0, 0) for replicas in (1, 2)]
    return figures_of(results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="50,100,200,400", help="the ladder of users")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each step holds its users")
    parser.add_argument("--workers", type=int, default=0, help="Locust workers (0: one process)")
    args = parser.parse_args()
    ladder = [int(users) for users in args.users.split(",")]
    results = [capacity(replicas, ladder, args.hold, args.workers) for replicas in (1, 2)]
    one, two = (r["capacity"]["requests_per_second"] if r["capacity"] else None for r in results)
    print(
        json.dumps(
            {"capacity": results, "two_replicas_over_one": round(two / one, 2) if one and two else None},
            indent=2,
        )
    )
    print()
    print(table([(NAME, figure) for figure in figures_of(results)]))


if __name__ == "__main__":
    main()
