"""The token bucket, the client address behind proxies, and the retry schedule, in process."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from golive.system_under_test.resilience.ratelimit import client_address, parse_networks
from golive.system_under_test.resilience.retry import RetryPolicy, with_retries
from golive.system_under_test.resilience.token_bucket import Limit, LocalBuckets, take

LIMIT = Limit(capacity=5, per_minute=60)  # one token a second


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    bucket, decision = take(None, LIMIT, now=100.0)
    outcomes = [decision.allowed]
    for _ in range(5):
        bucket, decision = take(bucket, LIMIT, now=100.0)
        outcomes.append(decision.allowed)
    assert outcomes == [True] * 5 + [False]
    assert decision.retry_after == pytest.approx(1.0)
    assert decision.reset_after == pytest.approx(5.0)
    assert bucket.rejected == 1
    assert bucket.requests == 6


def test_tokens_come_back_at_the_refill_rate_up_to_capacity() -> None:
    bucket, _ = take(None, LIMIT, 0.0)
    for _ in range(4):
        bucket, _ = take(bucket, LIMIT, 0.0)
    bucket, decision = take(bucket, LIMIT, 2.5)  # 2.5 tokens back, one taken
    assert decision.allowed
    assert bucket.tokens == pytest.approx(1.5)
    bucket, decision = take(bucket, LIMIT, 1000.0)
    assert bucket.tokens == pytest.approx(4.0)  # capped at capacity, minus this one


@given(st.lists(st.floats(0, 10, allow_nan=False), max_size=200))
def test_admissions_never_exceed_burst_plus_refill(gaps: list[float]) -> None:
    bucket, now, admitted = None, 0.0, 0
    for gap in gaps:
        now += gap
        bucket, decision = take(bucket, LIMIT, now)
        admitted += decision.allowed
    assert admitted <= LIMIT.capacity + now * LIMIT.per_second + 1e-9


def test_local_buckets_forget_the_least_recent_and_by_prefix() -> None:
    buckets = LocalBuckets(max_buckets=2)
    for key in ("a", "b", "c"):
        buckets.take(key, LIMIT, 0.0)
    assert list(buckets.buckets) == ["b", "c"]
    buckets.take("c|GET /x", LIMIT, 0.0)
    buckets.forget("c")
    assert list(buckets.buckets) == []


TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1/32"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: its header is ignored
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the leftmost is the client's own claim
        ("127.0.0.1", "198.51.100.1, 10.1.1.1", "198.51.100.1"),  # trusted hops are skipped
        ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),  # all trusted: the farthest
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_walks_trusted_proxies_only(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded, TRUSTED) == expected


def test_nobody_is_trusted_by_default() -> None:
    assert client_address("127.0.0.1", "198.51.100.1", []) == "127.0.0.1"


@given(st.integers(1, 10))
def test_full_jitter_stays_under_the_exponential_ceiling(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_factor=2, base_delay=0.05, max_delay=2.0)
    rng = random.Random(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(50)]
    assert all(0 <= delay <= min(2.0, 0.05 * 2 ** (attempt - 1)) for delay in delays)


def test_retries_stop_at_max_attempts_and_on_permanent_errors() -> None:
    calls: list[int] = []
    slept: list[float] = []

    async def flaky() -> str:
        calls.append(1)
        raise ConnectionError("down")

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = RetryPolicy(max_attempts=3, backoff_factor=2)
    with pytest.raises(ConnectionError):
        asyncio.run(with_retries(flaky, policy, lambda error: True, sleep=no_sleep))
    assert len(calls) == 3
    assert len(slept) == 2
    calls.clear()
    with pytest.raises(ConnectionError):
        asyncio.run(with_retries(flaky, policy, lambda error: False, sleep=no_sleep))
    assert len(calls) == 1
