"""Experiment files: the library loads; a bad file gets one line naming the file, field, problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from golive.chaos.experiment import ExperimentError, library, load, resolve

MINIMAL = """
title: t
steady_state:
  - name: p
    request: {path: /health}
method:
  - wait_seconds: 0
"""


def test_the_library_loads_and_has_fast_and_nightly_experiments() -> None:
    experiments = [load(path) for path in library()]
    assert len(experiments) >= 6
    assert any("fast" in experiment.tags for experiment in experiments)
    assert any("nightly" in experiment.tags for experiment in experiments)


def test_a_minimal_experiment_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL)
    experiment = load(path)
    assert experiment.name == "minimal"
    assert experiment.expectations.all_enveloped is True
    assert experiment.steady_state[0].expect.status == [200]


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("title: t", "title: [1, 2]", "title: Input should be a valid string"),
        ("title: t", "title: t\nsurprise: 1", "surprise: Extra inputs are not permitted"),
        (
            "  - wait_seconds: 0",
            "  - wait_seconds: -1",
            "method.0.wait_seconds: Input should be greater than or equal to 0",
        ),
        (
            "  - wait_seconds: 0",
            "  - {wait_seconds: 1, remove_faults: true}",
            "method.0: a step has exactly one action, found 2",
        ),
        (
            "  - wait_seconds: 0",
            "  - {fault: {proxy: p, type: meltdown}}",
            "method.0.fault.type: unknown fault 'meltdown'",
        ),
        (
            "  - wait_seconds: 0",
            "  - {traffic: {request: {path: /x}, count: 0}}",
            "method.0.traffic.count: Input should be greater",
        ),
        (
            "request: {path: /health}",
            "request: {path: health}",
            "steady_state.0.request.path: String should match pattern",
        ),
        ("title: t", "", "title: Field required"),
        ("title: t", "title: t\nreplicas: 5", "replicas: Input should be less than or equal to 4"),
        (
            "request: {path: /health}",
            "request: {path: /health}\n    replica: 1",
            "steady_state.0.replica: replica 1 does not exist (replicas: 1, numbered from 0)",
        ),
        (
            "  - wait_seconds: 0",
            "  - {traffic: {request: {path: /x}, count: 1, replica: 2}}",
            "method.0.traffic.replica: replica 2 does not exist (replicas: 1, numbered from 0)",
        ),
        (
            "  - wait_seconds: 0",
            "  - {wait_for: {breaker: redis, state: OPEN, timeout_seconds: 1, replica: 1}}",
            "method.0.wait_for.replica: replica 1 does not exist",
        ),
        (
            "  - wait_seconds: 0",
            "  - wait_seconds: 0\nrollbacks:\n"
            "  - {traffic: {request: {path: /x}, count: 1, expect: {admitted: 1}}}",
            "rollbacks.0.traffic.expect: rollbacks run after the checks",
        ),
    ],
)
def test_bad_fields_are_named_in_one_line(tmp_path: Path, replace: str, by: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace(replace, by))
    with pytest.raises(ExperimentError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [("title: [unclosed", "line 1: not valid YAML"), ("- a list", "document: must be a mapping")],
)
def test_broken_documents(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    with pytest.raises(ExperimentError, match=expected):
        load(path)


def test_unknown_experiment_names_list_the_library() -> None:
    with pytest.raises(ExperimentError, match=r"no such experiment .*postgres-down"):
        resolve(["nonexistent"])


def test_an_experiment_names_replicas_its_backend_has(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        MINIMAL.replace("title: t", "title: t\nreplicas: 2").replace(
            "  - wait_seconds: 0", "  - {traffic: {request: {path: /x}, count: 2, replica: 1}}"
        )
    )
    experiment = load(path)
    assert experiment.replicas == 2
    step = experiment.method[0].traffic
    assert step is not None
    assert step.replica == 1
    assert experiment.steady_state[0].replica is None  # every replica


def test_the_fast_subset_has_an_experiment_with_two_replicas() -> None:
    """Quick validations run the fast subset: shared state must be put to the test there too."""
    experiments = [load(path) for path in library()]
    assert any(experiment.replicas >= 2 and "fast" in experiment.tags for experiment in experiments)
