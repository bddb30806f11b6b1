"""The backend's Redis clients, made one way.

Redis drops its clients' connections when it restarts or fails over, and a proxy between them
drops them in a blip; a pooled connection is found dead only by the next command sent on it
("Connection closed by server"). Each command is therefore retried once, at once, on a new
connection when its connection failed: the first call after an outage is not a failure (a rate
limit check falling back to the replica's own bucket, a breaker counting a failure that is not
one). A timeout is not retried: a slow Redis costs a call one timeout, not two.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def redis_client(url: str, timeout: float) -> redis.Redis:
    """A client of the Redis at `url`; `timeout` bounds each connect and each answer."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
