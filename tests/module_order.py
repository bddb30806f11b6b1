"""`--module-order-seed SEED`: the test modules in an order made from SEED, each module's tests
kept together and in their own order.

A test that passes only after what another module left behind (a server it stopped, a row, a
file, an environment variable) passes in the usual order and fails in some other. Under xdist
the order also decides which modules share a worker, and so a session's stack. Two such defects
were found this way, none by the usual order. The nightly run gives a new seed each night; the
seed is in the run's header, so a failing order can be run again. Every worker orders alike: the
order depends on the seed and the modules' names alone.
"""

from __future__ import annotations

import hashlib

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--module-order-seed",
        metavar="SEED",
        default=None,
        help="run the test modules in an order made from SEED (each module's tests together, in order)",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption("module_order_seed")
    return None if seed is None else f"module order: seed {seed}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("module_order_seed")
    if seed is not None:
        # A stable sort on the module alone keeps each module's tests in the order they had.
        items.sort(key=lambda item: module_rank(str(seed), item.nodeid.split("::")[0]))


def module_rank(seed: str, module: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{module}".encode()).digest()
