"""Real protocols through the stack's proxies: what Postgres and Redis send arrives intact, and a
fault on a proxy is what the backend sees."""

from __future__ import annotations

import hashlib

import psycopg
import redis

from golive.core import http_clients
from golive.fixtures.stack import APP_DATABASE, Stack
from golive.fixtures.toxiproxy import ToxiproxyClient


def proxied(stack: Stack, name: str) -> tuple[str, int]:
    host, port = stack.proxied[name].rsplit(":", 1)
    return host, int(port)


def test_postgres_traffic_is_byte_exact(golive_stack: Stack) -> None:
    assert golive_stack.app_endpoint is not None
    query = (
        "SELECT md5(string_agg(g::text || repeat('x', 100), ',')) AS digest, count(*) "
        "FROM generate_series(1, 20000) g"
    )
    direct = golive_stack.app_endpoint
    _host, port = proxied(golive_stack, "postgres")
    results = []
    for endpoint_port in (direct.port, port):
        dsn = direct.dsn(APP_DATABASE).replace(f":{direct.port}/", f":{endpoint_port}/")
        with psycopg.connect(dsn) as connection:
            results.append(connection.execute(query).fetchone())
            big = connection.execute("SELECT repeat('abc', 300000)").fetchone()
            assert big is not None
            assert hashlib.sha256(big[0].encode()).hexdigest() == hashlib.sha256(b"abc" * 300000).hexdigest()
    assert results[0] == results[1]


def test_redis_traffic_is_byte_exact(golive_stack: Stack) -> None:
    host, port = proxied(golive_stack, "redis")
    value = bytes(range(256)) * 8192  # 2 MiB, every byte value
    with redis.Redis(host=host, port=port, db=15) as client:
        client.set("golive:e2e", value)
        assert client.get("golive:e2e") == value
        assert client.delete("golive:e2e") == 1


def test_a_down_redis_proxy_is_what_the_backend_sees(
    golive_toxiproxy: ToxiproxyClient, golive_sut_url: str
) -> None:

    with golive_toxiproxy.down("redis"):
        health = http_clients.get(f"{golive_sut_url}/health", timeout=30).json()["data"]
    assert health["dependencies"]["redis"]["status"] == "down"
    assert (
        http_clients.get(f"{golive_sut_url}/health", timeout=30).json()["data"]["dependencies"]["redis"][
            "status"
        ]
        == "up"
    )
