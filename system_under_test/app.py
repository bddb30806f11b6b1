"""The application factory: settings in, a fully wired FastAPI app out.

create_app builds every part, the app's resources included, and hands each middleware its
collaborators as it adds it (as Starlette's own middleware takes them), so no middleware looks
anything up on the app per request. Building the resources connects nothing: the lifespan starts
them (the first connections, the background work) and closes them. One app, one lifespan, as a
server runs it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from . import __version__
from .account_standing import AccountStanding
from .envelope import ErrorEnvelope
from .errors import install_exception_handlers
from .job_reaper import JobReaper
from .logs import configure_logging, get_logger
from .middleware.allow import AllowHeaderMiddleware
from .middleware.body_limit import BodyLimitMiddleware
from .middleware.cors import StrictCORSMiddleware
from .middleware.metrics import MetricsMiddleware, RequestMetrics
from .middleware.rate_limit import EXPOSED_QUOTA_HEADERS, RateLimitMiddleware
from .middleware.request_context import RequestContextMiddleware
from .middleware.routes import RouteTable
from .resources import Resources
from .routers import (
    agents,
    auth,
    circuit_breakers,
    content,
    health,
    legacy_websocket,
    metrics,
    pusher,
    rate_limit,
    resilience,
    users,
)
from .security import JwtConfig
from .settings import Settings

logger = get_logger("system_under_test")

# Every route may answer these; documenting them keeps the OpenAPI document honest for clients
# and for schema-driven testing.
_COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found"),
        (413, "Request body too large"),
        (422, "Validation error"),
        (429, "Rate limit exceeded (Retry-After says when to come back)"),
        (500, "Internal error"),
        (502, "Upstream error"),
        (503, "Dependency unavailable"),
        (504, "Upstream timeout"),
    )
}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    resources: Resources = app.state.resources
    await resources.start()
    reaper = JobReaper(resources.sessionmaker, settings.content_job_timeout_seconds)
    reaper.start()
    logger.info("started", version=__version__)
    try:
        yield
    finally:
        await reaper.stop()
        await resources.close()
        logger.info("stopped")


def _init_sentry(settings: Settings) -> None:
    if settings.sentry_dsn is None:
        return
    # Imported only when configured: sentry-sdk's import is a quarter of a second (it probes for
    # gevent, which Locust installs beside it), a sixth of every worker's start without a DSN.
    import sentry_sdk

    # Errors reach Sentry through its logging integration: the request-context middleware logs
    # every unhandled exception (with the request id) at ERROR.
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        release=f"toolboxai-backend@{__version__}",
        send_default_pii=False,
        # Frame locals hold ASGI scopes with bearer tokens, settings with secrets, passwords.
        include_local_variables=False,
    )


def create_app(settings: Settings) -> FastAPI:
    configure_logging(settings.log_level, settings.log_format)
    _init_sentry(settings)
    registry = CollectorRegistry() if settings.metrics_enabled else None
    resources = Resources.open(settings, registry)
    jwt_config = JwtConfig.from_settings(settings)
    app = FastAPI(
        title="ToolboxAI backend (golive reference implementation)",
        version=__version__,
        lifespan=_lifespan,
        responses=_COMMON_ERRORS,
    )
    app.state.started = time.monotonic()  # the uptime's start: this app's, not its modules' import
    app.state.settings = settings
    app.state.resources = resources
    app.state.jwt_config = jwt_config
    app.state.account_standing = AccountStanding()
    install_exception_handlers(app)

    app.include_router(health.router)
    app.include_router(circuit_breakers.router)
    app.include_router(rate_limit.router)
    app.include_router(resilience.router)
    app.include_router(pusher.router)
    app.include_router(legacy_websocket.router)
    api = APIRouter(prefix="/api/v1")
    for module in (auth, users, content, agents):
        api.include_router(module.router)
    app.include_router(api)

    # Added innermost first: the last one added wraps all the others. Outside in: request id and
    # the last-resort 500; metrics (they see every answer, 413s and 429s included); the body limit;
    # CORS (so a browser can read a 429); the rate limit; the whole Allow of a 405.
    routes = RouteTable(app.openapi)
    app.add_middleware(AllowHeaderMiddleware, routes=routes)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=resources.limiter,
        # Asked per request: an admin switches rate limiting at run time (POST /resilience/config),
        # on every replica (the config is shared through Redis).
        enabled=lambda: resources.resilience.config.rate_limit_enabled,
        hit_counter=resources.count_rate_limit_hit,
        jwt_config=jwt_config,
        routes=routes,
        trusted_proxies=settings.rate_limit_trusted_proxies,
        per_endpoint=settings.rate_limit_per_endpoint,
    )
    app.add_middleware(
        StrictCORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=settings.cors_allowed_methods,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", settings.correlation_id_header],
        expose_headers=[settings.correlation_id_header, "Retry-After", *EXPOSED_QUOTA_HEADERS],
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        timeout_seconds=settings.request_body_timeout_seconds,
    )
    if registry is not None:
        app.state.metrics_registry = registry
        app.include_router(metrics.router)
        app.add_middleware(MetricsMiddleware, metrics=RequestMetrics(registry))
    app.add_middleware(RequestContextMiddleware, header_name=settings.correlation_id_header)
    return app
