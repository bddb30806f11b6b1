"""The AI-service stand-in does what it is told, reproducibly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from golive.core import http_clients
from golive.fixtures.upstream.control import UpstreamControl, UpstreamServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamServer]:
    server = UpstreamServer(tmp_path_factory.mktemp("upstream")).start()
    yield server
    server.stop()


@pytest.fixture
def control(server: UpstreamServer) -> Iterator[UpstreamControl]:
    control = server.control()
    control.reset()
    yield control
    control.close()


def call(server: UpstreamServer, request_id: str = "r") -> httpx.Response:
    return http_clients.post(
        f"{server.url}/v1/generate",
        json={"prompt": "two words"},
        headers={"X-Request-ID": request_id},
        timeout=30,
    )


def test_normal_answer(server: UpstreamServer, control: UpstreamControl) -> None:
    response = call(server, "id-1")
    assert response.status_code == 200
    assert response.json() == {
        "content": "Generated text about two words",
        "model": "stand-in-1",
        "tokens": 7,
    }
    stats = control.stats()
    assert stats.calls == 1
    assert stats.by_status == {"200": 1}
    assert stats.request_ids == ["id-1"]


def test_script_comes_first_then_normal(server: UpstreamServer, control: UpstreamControl) -> None:
    control.program(script=[503, 500, 200, 429])
    assert [call(server).status_code for _ in range(5)] == [503, 500, 200, 429, 200]


def test_error_rate_is_reproducible_with_a_seed(server: UpstreamServer, control: UpstreamControl) -> None:
    outcomes = []
    for _ in range(2):
        control.program(error_rate=0.5, error_status=502, seed=7)
        outcomes.append([call(server).status_code for _ in range(40)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 502}


def test_latency_is_applied(server: UpstreamServer, control: UpstreamControl) -> None:
    control.program(latency_ms=400)
    with pytest.raises(httpx.ReadTimeout):
        http_clients.post(f"{server.url}/v1/generate", json={"prompt": "p"}, timeout=0.1)


def test_malformed_answers(server: UpstreamServer, control: UpstreamControl) -> None:
    control.program(malformed=True)
    response = call(server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_reset_restores_normal_behaviour(server: UpstreamServer, control: UpstreamControl) -> None:
    control.program(error_rate=1)
    control.reset()
    assert call(server).status_code == 200
    assert control.stats().calls == 1


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"error_rate": 2}', b'{"latency": 5}', b'{"error_status": 200}', b"[]"],
)
def test_bad_programs_are_refused_and_change_nothing(
    server: UpstreamServer, control: UpstreamControl, body: bytes
) -> None:
    response = http_clients.put(f"{server.url}/_control/behaviour", content=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]
    assert call(server).status_code == 200


def test_a_bad_prompt_is_a_400(server: UpstreamServer, control: UpstreamControl) -> None:
    assert http_clients.post(f"{server.url}/v1/generate", content=b"nope", timeout=30).status_code == 400


def test_a_repeated_idempotency_key_is_replayed_not_generated(
    server: UpstreamServer, control: UpstreamControl
) -> None:
    def ask(key: str) -> httpx.Response:
        return http_clients.post(
            f"{server.url}/v1/generate", json={"prompt": "p"}, headers={"Idempotency-Key": key}, timeout=30
        )

    control.program(script=[503])
    assert ask("k1").status_code == 503  # failures are not remembered...
    first = ask("k1")  # ...so the retry generates
    again = ask("k1")  # and a repeat of a success is replayed
    other = ask("k2")
    assert first.json() == again.json()
    assert other.status_code == 200
    stats = control.stats()
    assert (stats.generations, stats.replays) == (2, 1)
    assert stats.idempotency_keys == ["k1", "k1", "k1", "k2"]


def test_each_key_sees_its_own_first_failures(server: UpstreamServer, control: UpstreamControl) -> None:
    def ask(key: str | None) -> int:
        headers = {} if key is None else {"Idempotency-Key": key}
        return http_clients.post(
            f"{server.url}/v1/generate", json={"prompt": "p"}, headers=headers, timeout=30
        ).status_code

    control.program(failures_per_key=2, error_status=503, script=[500])
    assert ask(None) == 500  # a call without a key meets the script
    # Interleaved as jobs retried side by side call: each key fails twice, then is answered.
    assert [ask(key) for key in ("a", "b", "a", "b", "a", "b", "a")] == [503, 503, 503, 503, 200, 200, 200]
    assert ask("c") == 503
    control.program(failures_per_key=1, error_status=502)  # a new behaviour counts afresh
    assert [ask("c"), ask("c")] == [502, 200]
