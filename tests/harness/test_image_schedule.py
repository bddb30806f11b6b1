"""`golive images build` builds side by side: each image once its base is built, at most WORKERS
at once; a failure starts nothing more and is raised once the builds under way end; an interrupted
build stops the ones under way. The scheduling, with stand-in builds (the engine's builds:
tests/docker/test_images.py and CI's images step)."""

from __future__ import annotations

import re
import threading
from collections.abc import Generator

import pytest

from golive.images.build import WORKERS, Built, ImageBuildError, build_each
from golive.images.catalog import BY_NAME, CATALOG, ImageSpec, closure

DEADLINE = 10.0


class StandIn:
    """Builds that record when they start and end; `hold` names builds that wait until all of
    them run at once (a barrier), so passing proves they ran side by side."""

    def __init__(self, hold: tuple[str, ...] = (), failing: str | None = None) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.hold = hold
        self.barrier = threading.Barrier(len(hold)) if hold else None
        self.failing = failing
        self.stopped = threading.Event()

    def build(self, spec: ImageSpec) -> Built:
        with self.lock:
            self.events.append(f"start {spec.name}")
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if spec.name in self.hold:
                assert self.barrier is not None
                self.barrier.wait(DEADLINE)
            if spec.name == self.failing:
                raise ImageBuildError(f"{spec.tag} did not build")
            return Built(spec, 0.0, 0, "built")
        finally:
            with self.lock:
                self.events.append(f"end {spec.name}")
                self.running -= 1

    def run(self, specs: list[ImageSpec]) -> Generator[Built, None, None]:
        return build_each(self.build, specs, started=lambda spec: None, stop=self.stopped.set)


def test_each_image_is_built_after_its_base_and_independent_ones_side_by_side() -> None:
    builds = StandIn(hold=("postgres", "redis", "python"))
    built = [result.spec.name for result in builds.run(closure([]))]
    assert sorted(built) == sorted(spec.name for spec in CATALOG)
    for spec in CATALOG:
        if spec.base is not None:
            assert builds.events.index(f"end {spec.base}") < builds.events.index(f"start {spec.name}")
    assert builds.most_at_once == WORKERS  # the three built on the base ran at once: the barrier
    assert not builds.stopped.is_set()


def test_a_failure_starts_nothing_more_and_is_raised_once_the_builds_under_way_end() -> None:
    builds = StandIn(failing="python")
    with pytest.raises(ImageBuildError, match=re.escape("golive/python:3.11 did not build")):
        list(builds.run(closure([])))
    started = {event.split()[1] for event in builds.events if event.startswith("start")}
    assert started == {"base", "postgres", "redis", "python"}  # not what is built on python
    assert builds.running == 0  # postgres and redis ended before the failure was raised


def test_only_the_named_images_and_what_they_are_built_from() -> None:
    builds = StandIn()
    built = [result.spec.name for result in builds.run(closure(["toxiproxy"]))]
    assert built == ["base", "python", "toxiproxy"]


def test_stopping_early_stops_the_builds_under_way() -> None:
    builds = StandIn()
    results = builds.run(closure([]))
    assert next(results).spec.name == "base"
    results.close()  # as Ctrl-C in the loop over them would
    assert builds.stopped.is_set()
    assert builds.running == 0


def test_a_base_listed_after_what_is_built_on_it_is_still_built_first() -> None:
    builds = StandIn()
    specs = [BY_NAME["backend"], BY_NAME["python"], BY_NAME["base"]]
    assert [result.spec.name for result in builds.run(specs)] == ["base", "python", "backend"]
