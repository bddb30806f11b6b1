"""A staging deployment with Toxiproxy, as deploy/kubernetes/staging-chaos/ and
docker-compose.chaos.yml make one, built from processes rather than golive's stack, so that
`golive chaos run --target --toxiproxy` and `golive validate --target --toxiproxy` are tested
against something golive did not start:

- Postgres and Redis: the local provider's servers (the deployment's own, as compose's services);
- the AI service and Pusher: golive's AI-service stand-in and Pusher emulator, as the deployment's
  AI service and Pusher (the experiments never program or ask the stand-in here);
- Toxiproxy: golive's (`python -m golive.chaos.toxiproxy --config`), populated from the manifests'
  own toxiproxy.json (its names; each proxy listening on a loopback port of its own and leading to
  the server above, where the manifests' listen on 0.0.0.0 and name compose's hosts);
- the backend as its image runs it (uvicorn, `--no-proxy-headers`, the ConfigMap's settings),
  migrated first by `manage migrate` and given its accounts by `manage create-user`, as the
  compose file's migrate service and an operator do; every dependency through its proxy.

Everything listens on loopback, on ports the kernel chose; `services` and `backend` stop what they
started, however the test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from golive.core import http_clients
from golive.fixtures.http_service import HttpService
from golive.fixtures.network import LOOPBACK
from golive.fixtures.providers import create_provider
from golive.fixtures.pusher.service import PusherService
from golive.fixtures.services import PostgresAdmin, PostgresEndpoint
from golive.fixtures.upstream.control import UpstreamServer

ROOT = Path(__file__).resolve().parents[2]
STAGING = ROOT / "deploy" / "kubernetes" / "staging-chaos"
APP = "golive.system_under_test.main:app"
HTTP = "golive.system_under_test.http_limits:LimitedHttpToolsProtocol"
TOOL_TIMEOUT_SECONDS = 120


@dataclass
class Services:
    """What the deployment's backend depends on, each behind its proxy (name -> host:port)."""

    postgres_admin: PostgresEndpoint
    proxied: dict[str, str]
    toxiproxy: str  # its API
    pusher: PusherService
    log_dir: Path


@dataclass
class Deployment:
    url: str
    toxiproxy: str
    accounts: dict[str, str]  # $GOLIVE_{ADMIN,USER}_{USERNAME,PASSWORD}


def configmap_settings() -> dict[str, str]:
    """The backend's settings in staging (backend-settings.yaml's ConfigMap)."""
    (config,) = [doc for doc in yaml.safe_load_all((STAGING / "backend-settings.yaml").read_text()) if doc]
    settings: dict[str, str] = config["data"]
    return settings


@contextmanager
def services(log_dir: Path) -> Iterator[Services]:
    log_dir.mkdir(parents=True, exist_ok=True)
    provider = create_provider("local")
    stoppable: list[Any] = []
    try:
        postgres = provider.start_postgres(log_dir)
        stoppable.append(postgres)
        redis = provider.start_redis(log_dir)
        stoppable.append(redis)
        upstream = UpstreamServer(log_dir).start()
        stoppable.append(upstream)
        pusher = PusherService(log_dir).start()
        stoppable.append(pusher)
        leads_to = {
            "postgres": f"{postgres.admin.host}:{postgres.admin.port}",
            "redis": redis.url.split("//", 1)[1].split("/", 1)[0],
            "upstream": upstream.url.removeprefix("http://"),
            "pusher": pusher.url.removeprefix("http://"),
        }
        listed = json.loads((STAGING / "toxiproxy.json").read_text())
        config = log_dir / "toxiproxy.json"
        config.write_text(
            json.dumps(
                [
                    {**entry, "listen": f"{LOOPBACK}:0", "upstream": leads_to[entry["name"]]}
                    for entry in listed
                ]
            )
        )
        toxiproxy = HttpService(
            "staging toxiproxy",
            [sys.executable, "-m", "golive.chaos.toxiproxy", "--fd", "{fd}", "--config", str(config)],
            log_path=log_dir / "toxiproxy.log",
            ready_path="/version",
        )
        stoppable.append(toxiproxy)
        toxiproxy.start()
        proxies = http_clients.get(f"{toxiproxy.url}/proxies", timeout=10).json()
        yield Services(
            postgres_admin=postgres.admin,
            proxied={name: proxy["listen"] for name, proxy in proxies.items()},
            toxiproxy=toxiproxy.url,
            pusher=pusher,
            log_dir=log_dir,
        )
    finally:
        for service in reversed(stoppable):
            service.stop()
        provider.close()


@contextmanager
def backend(
    services: Services, name: str, redis_db: int, overrides: Mapping[str, str] | None = None
) -> Iterator[Deployment]:
    """A backend of the deployment with a database of its own and Redis database `redis_db` (so
    two of them share no breaker, limiter or setting), the ConfigMap's settings with `overrides`
    over them."""
    role = f"staging_{name}"
    password = secrets.token_urlsafe(16)
    admin = PostgresAdmin(services.postgres_admin)
    admin.create_role(role, password)
    admin.create_database(role, owner=role)
    pg_host, pg_port = services.proxied["postgres"].rsplit(":", 1)
    pusher_host, pusher_port = services.proxied["pusher"].rsplit(":", 1)
    env = {
        **os.environ,
        **configmap_settings(),
        "DATABASE_URL": PostgresEndpoint(pg_host, int(pg_port), role, password).dsn(role),
        "REDIS_URL": f"redis://{services.proxied['redis']}/{redis_db}",
        "AI_SERVICE_URL": f"http://{services.proxied['upstream']}",
        "PUSHER_HOST": pusher_host,
        "PUSHER_PORT": pusher_port,
        "PUSHER_APP_ID": services.pusher.app_id,
        "PUSHER_KEY": services.pusher.key,
        "PUSHER_SECRET": services.pusher.secret,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **(overrides or {}),
    }
    workdir = services.log_dir / name
    workdir.mkdir(exist_ok=True)
    manage = [sys.executable, "-m", "golive.system_under_test.manage"]
    subprocess.run([*manage, "migrate"], env=env, cwd=workdir, check=True, timeout=TOOL_TIMEOUT_SECONDS)
    accounts = {}
    for account in ("admin", "user"):
        username, secret = f"staging-{name}-{account}", secrets.token_urlsafe(16)
        subprocess.run(
            [*manage, "create-user", username, "--role", account],
            input=f"{secret}\n",
            text=True,
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
            timeout=TOOL_TIMEOUT_SECONDS,
        )
        accounts[f"GOLIVE_{account.upper()}_USERNAME"] = username
        accounts[f"GOLIVE_{account.upper()}_PASSWORD"] = secret
    server = HttpService(
        f"staging backend {name}",
        [sys.executable, "-m", "uvicorn", APP, "--fd", "{fd}", "--no-proxy-headers", "--http", HTTP],
        log_path=services.log_dir / f"backend-{name}.log",
        ready_path="/health",
        env=env,
        cwd=workdir,
    )
    try:
        server.start(timeout=60)
        yield Deployment(server.url, services.toxiproxy, accounts)
    finally:
        server.stop()
