"""One stage per capability (suites, health, drills, chaos, load, the environment, the checks before
a stack starts): the work both `golive validate` and the single commands do, so the two are one
code path. A stage writes its evidence into the run directory and prints nothing of its own: the
command that calls it says how it went (docs/architecture.md)."""
