from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

pytest_plugins = ["pytester", "tests.module_order"]

# Same examples on every run and machine: a property test failing in CI must fail again locally.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.load_profile("deterministic")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the CPUs (at most --maxprocesses). Many tests wait on a
    server of their own (a stack starting, a breaker's open time, a validation's lanes), so a third
    worker on a 2-core machine fills time two leave idle: the suite took 584 s with two, 542 s with
    three (same machine, same commit), as `golive validate` runs one lane more than the CPUs."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(scope="session", autouse=True)
def _session_cluster_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The stacks of one session (and the golive processes its tests run) share a cache of
    Postgres clusters of its own: the first stack builds it, every other one copies it, and the
    session neither reads what the user's cache holds nor writes to it. It lives in the session's
    temp dir, which pytest removes a few sessions later even if this one was killed. A cache set
    with GOLIVE_CACHE_DIR is used as it is."""
    if os.environ.get("GOLIVE_CACHE_DIR"):
        yield
        return
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("GOLIVE_CACHE_DIR", str(tmp_path_factory.mktemp("golive-cache")))
        yield
