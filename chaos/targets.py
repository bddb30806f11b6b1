"""Where an experiment runs: a backend of its own on the stack (as many replicas as the experiment
needs, sharing their database and Redis database), every dependency through the stack's proxies,
and a user and an admin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from golive.chaos.experiment import Experiment
from golive.chaos.runner import Target
from golive.fixtures.stack import Stack, create_users, mint_token, new_credentials


@contextmanager
def dedicated_target(stack: Stack, experiment: Experiment) -> Iterator[Target]:
    assert stack.toxiproxy is not None
    assert stack.upstream is not None
    backend = stack.dedicated_backend(f"chaos/{experiment.name}", experiment.env, experiment.replicas)
    with backend as (cluster, database):
        users = {role: new_credentials(f"chaos-{role}-{uuid.uuid4().hex[:6]}") for role in ("user", "admin")}
        ids = create_users(database, users)
        secret = cluster.env["JWT_SECRET"]
        tokens = {role: mint_token(secret, ids[role], users[role].username, role) for role in users}

        def content_rows() -> dict[str, str]:
            with psycopg.connect(database) as connection:
                rows = connection.execute(
                    "SELECT id::text, status FROM content WHERE user_id = %s", (ids["user"],)
                )
                return dict(rows.fetchall())

        yield Target(
            sut_urls=cluster.urls,
            toxiproxy=stack.toxiproxy.client(),
            upstream=stack.upstream.control(),
            tokens=tokens,
            content_rows=content_rows,
            proxies=set(stack.proxied),
            database=database,
        )
