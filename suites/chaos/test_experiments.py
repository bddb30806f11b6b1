"""Every experiment of the library must hold. Fast ones run in the default suite (marker `chaos`);
the others only with `-m nightly` (and in `golive chaos run`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.mark import ParameterSet

from golive.chaos.experiment import library, load
from golive.chaos.runner import Runner
from golive.chaos.targets import dedicated_target
from golive.fixtures.clients import owned
from golive.fixtures.stack import StackHandle

SEED = 20261128


def _cases() -> list[ParameterSet]:
    cases = []
    for path in library():
        experiment = load(path)
        marks = [pytest.mark.chaos] + ([] if "fast" in experiment.tags else [pytest.mark.nightly])
        cases.append(pytest.param(path, id=path.stem, marks=marks))
    return cases


@pytest.mark.parametrize("path", _cases())
def test_the_experiment_holds(golive_stack: StackHandle, path: Path) -> None:
    stack = owned(golive_stack)
    experiment = load(path)
    with dedicated_target(stack, experiment) as target:
        journal = Runner(experiment, target, seed=SEED).run()
    journal.write(stack.run_dir / "chaos" / f"{experiment.name}.json")
    failed = [f"{check.name}: {check.detail}" for check in journal.checks if not check.ok]
    errors = [event.detail for event in journal.events if event.kind == "error"]
    assert journal.held, f"{journal.outcome}: {failed or errors}"
