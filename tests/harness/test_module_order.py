"""`--module-order-seed` (tests/module_order.py): another order of the modules, each kept whole."""

from __future__ import annotations

import pytest

MODULES = [f"test_m{index}" for index in range(8)]
PYTEST_ARGS = ("-p", "tests.module_order", "-p", "no:cacheprovider")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for module in MODULES:
        pytester.makepyfile(**{module: "def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n"})
    return pytester


def collected(project: pytest.Pytester, *args: str) -> list[str]:
    result = project.runpytest_inprocess(*PYTEST_ARGS, "--collect-only", "-q", *args)
    assert result.ret == 0, result.stdout.str()
    return [line for line in result.outlines if "::" in line]


def modules_in_order(nodeids: list[str]) -> list[str]:
    order: list[str] = []
    for nodeid in nodeids:
        module = nodeid.split("::")[0].removesuffix(".py")
        if module not in order:
            order.append(module)
    return order


def test_without_a_seed_the_order_is_the_usual_one(project: pytest.Pytester) -> None:
    assert modules_in_order(collected(project)) == MODULES


def test_a_seed_reorders_the_modules_and_keeps_each_whole_and_in_order(project: pytest.Pytester) -> None:
    usual = collected(project)
    orders = {seed: collected(project, "--module-order-seed", seed) for seed in ("1", "2")}
    for nodeids in orders.values():
        assert sorted(nodeids) == sorted(usual)  # every test, once
        order = modules_in_order(nodeids)
        # Each module's tests together (a module seen once) and in their own order.
        grouped = [nodeid for module in order for nodeid in usual if nodeid.startswith(f"{module}.py::")]
        assert grouped == nodeids
    assert modules_in_order(orders["1"]) != MODULES
    assert modules_in_order(orders["1"]) != modules_in_order(orders["2"])


def test_the_same_seed_gives_the_same_order_and_names_it_in_the_header(project: pytest.Pytester) -> None:
    seed = ("--module-order-seed", "20261203")
    assert collected(project, *seed) == collected(project, *seed)
    result = project.runpytest_inprocess(*PYTEST_ARGS, *seed, "--collect-only")
    assert "module order: seed 20261203" in result.stdout.str()
