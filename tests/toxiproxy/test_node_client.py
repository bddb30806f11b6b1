"""The official Node client (toxiproxy-node-client), run with Node against our server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from golive.fixtures.node import NodeProject, node_for
from golive.fixtures.toxiproxy import ToxiproxyService
from tests.toxiproxy.conftest import EchoServer

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node() -> NodeProject:
    return node_for(NODE_DIR, "toxiproxy-node-client")


def test_the_node_client_conformance_script_passes(
    node: NodeProject, toxiproxy_service: ToxiproxyService, echo: EchoServer, api: object
) -> None:
    result = subprocess.run(
        [node.node, "conformance.mjs", toxiproxy_service.url, echo.address],
        cwd=node.directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not ok" not in result.stdout
    assert "13 passed, 0 failed" in result.stdout
