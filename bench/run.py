"""Every bench of this folder in one command, and their figures in one table: figure, baseline
(measured in the same run), golive, ratio (golive / baseline). A bench that needs what this
machine lacks (wrk, a Docker engine, Locust) gives a row saying n/a and why; one that fails, a row
with its error, and the others still run.

    .venv/bin/python bench/run.py [--quick] [--only stack_startup,toxiproxy_overhead] [--list]

--quick runs each briefly (one run, small loads; a few minutes in all): a look, not figures to
quote. Without it each runs as its own script does by default (load_capacity alone takes a quarter
of an hour). Each bench also runs alone, with its own options and detailed lines:
`.venv/bin/python bench/<name>.py --help`. bench/suite_idle.py (where the test suite's time goes:
idle cores, CPU by test module) is not among them: it runs the whole suite, and is run alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from figures import Figure, table

# In the order they run: the quick ones first.
BENCHES = (
    "refusal_cost",
    "stack_startup",
    "toxiproxy_overhead",
    "pusher_fanout",
    "resilience_overhead",
    "validate_duration",
    "interpreter",
    "load_capacity",
)


def figures_of(name: str, quick: bool) -> list[Figure]:
    """The bench's figures, or one n/a row with the error that stopped it."""
    try:
        module = importlib.import_module(name)  # bench/ is on sys.path: this script is in it
        found: list[Figure] = module.figures(quick)
    except Exception as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        return [Figure.unavailable(name, f"failed: {type(error).__name__}: {lines[0]}")]
    except SystemExit as error:  # a bench's own "cannot go on" line
        return [Figure.unavailable(name, f"failed: {error}")]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="each bench briefly (a look, not figures)")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHES)}")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(BENCHES))
        return
    selected = args.only.split(",") if args.only else list(BENCHES)
    unknown = [name for name in selected if name not in BENCHES]
    if unknown:
        parser.error(f"no bench {', '.join(unknown)}: choose among {', '.join(BENCHES)}")
    rows: list[tuple[str, Figure]] = []
    for name in selected:
        print(f"bench/run.py: {name}{' (quick)' if args.quick else ''}...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += [(name, figure) for figure in figures_of(name, args.quick)]
        print(f"bench/run.py: {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
